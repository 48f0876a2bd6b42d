import adapter from "@sveltejs/adapter-node";
import { vitePreprocess } from "@sveltejs/vite-plugin-svelte";

/**
 * The dashboard's SvelteKit config. It lives at the repository root (the design card's layout);
 * the dashboard's own sources are under apps/web/.
 * @type {import('@sveltejs/kit').Config}
 */
const config = {
  preprocess: vitePreprocess(),
  compilerOptions: { runes: true },
  kit: {
    adapter: adapter({ out: "build" }),
    files: {
      src: "apps/web/src",
      assets: "apps/web/static",
    },
    alias: { $components: "apps/web/src/lib/components" },
    // A strict Content-Security-Policy: scripts only from here (inline ones need the per-response
    // nonce), no eval, style sheets only from here, nothing framed, forms only to here. Style
    // *attributes* are allowed (SvelteKit's route announcer and Svelte set them; they cannot run
    // code). `ws: wss:` is narrowed to the signaling worker's origin per response
    // (hooks.server.ts), which this static config cannot know.
    csp: {
      mode: "nonce",
      directives: {
        "default-src": ["self"],
        "script-src": ["self"],
        "style-src": ["self"],
        "style-src-attr": ["unsafe-inline"],
        "img-src": ["self", "data:", "blob:"],
        "media-src": ["self", "blob:"],
        "font-src": ["self"],
        "connect-src": ["self", "ws:", "wss:"],
        "object-src": ["none"],
        "base-uri": ["none"],
        "frame-ancestors": ["none"],
        "form-action": ["self"],
      },
    },
  },
};

export default config;
