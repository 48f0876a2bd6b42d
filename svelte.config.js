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
  },
};

export default config;
