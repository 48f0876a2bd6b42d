import { decodeBase32IgnorePadding } from "@oslojs/encoding";
import { generateHOTP } from "@oslojs/otp";
import { encode } from "uqr";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "./secrets.ts";
import {
  generateRecoveryCodes,
  hashRecoveryCode,
  newTotpSecret,
  normalizeRecoveryCode,
  RECOVERY_CODE_COUNT,
  totpKeyUri,
  totpQrSvg,
  totpStep,
  verifyTotp,
} from "./totp.ts";

// RFC 6238 Appendix B: the SHA-1 seed and its 8-digit codes at time T (seconds).
const rfcSecret = new TextEncoder().encode("12345678901234567890");
const rfcVectors = [
  { t: 59, code: "94287082" },
  { t: 1111111109, code: "07081804" },
  { t: 1111111111, code: "14050471" },
  { t: 1234567890, code: "89005924" },
  { t: 2000000000, code: "69279037" },
  { t: 20000000000, code: "65353130" },
];

const now = 1_700_000_000_000;
/** The 6-digit code of the step `offset` steps from `now`. */
function codeAt(secret: Uint8Array, offset: number): string {
  return generateHOTP(secret, BigInt(totpStep(now) + offset), 6);
}

describe("totp", () => {
  it("makes 20-byte random secrets", () => {
    const a = newTotpSecret();
    expect(a).toHaveLength(20);
    expect(newTotpSecret()).not.toEqual(a);
  });

  it("matches the RFC 6238 Appendix B SHA-1 test vectors", () => {
    for (const { t, code } of rfcVectors) {
      const step = Math.floor(t / 30);
      expect(totpStep(t * 1000)).toBe(step);
      expect(generateHOTP(rfcSecret, BigInt(step), 8)).toBe(code);
      // Six digits are the last six of the eight (the same truncation, mod 10^6).
      expect(verifyTotp(rfcSecret, code.slice(2), { now: t * 1000 })).toEqual({ ok: true, step });
    }
  });

  it("accepts the current step and one step either side for clock skew", () => {
    const secret = newTotpSecret();
    for (const offset of [-1, 0, 1]) {
      expect(verifyTotp(secret, codeAt(secret, offset), { now })).toEqual({
        ok: true,
        step: totpStep(now) + offset,
      });
    }
  });

  it("refuses a code two steps away", () => {
    const secret = newTotpSecret();
    expect(verifyTotp(secret, codeAt(secret, -2), { now })).toEqual({ ok: false });
    expect(verifyTotp(secret, codeAt(secret, 2), { now })).toEqual({ ok: false });
  });

  it("refuses a reused code: any step at or before the last one used", () => {
    const secret = newTotpSecret();
    const code = codeAt(secret, 0);
    const first = verifyTotp(secret, code, { now });
    expect(first).toEqual({ ok: true, step: totpStep(now) });
    const lastUsedStep = first.ok ? first.step : null;
    expect(verifyTotp(secret, code, { now, lastUsedStep })).toEqual({ ok: false });
    // A code from the previous step arriving late is refused too once a newer one was used…
    expect(verifyTotp(secret, codeAt(secret, -1), { now, lastUsedStep })).toEqual({ ok: false });
    // …while the next step's code still works.
    expect(verifyTotp(secret, codeAt(secret, 1), { now, lastUsedStep })).toEqual({
      ok: true,
      step: totpStep(now) + 1,
    });
  });

  it("ignores spaces and dashes in what the person typed", () => {
    const secret = newTotpSecret();
    const code = codeAt(secret, 0);
    for (const typed of [
      ` ${code} `,
      `${code.slice(0, 3)} ${code.slice(3)}`,
      `${code.slice(0, 3)}-${code.slice(3)}`,
    ]) {
      expect(verifyTotp(secret, typed, { now })).toMatchObject({ ok: true });
    }
  });

  it("refuses a wrong code, a wrong length and non-digits", () => {
    const secret = newTotpSecret();
    const code = codeAt(secret, 0);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, "0");
    for (const typed of [wrong, code.slice(1), `${code}0`, "", "abcdef", "１２３４５６"]) {
      expect(verifyTotp(secret, typed, { now })).toEqual({ ok: false });
    }
  });

  it("writes an otpauth URI with the label, issuer, parameters and unpadded base32 secret", () => {
    const uri = totpKeyUri({ issuer: "Remote Desk", accountName: "tech+1@example.com", secret: rfcSecret });
    expect(uri.startsWith("otpauth://totp/Remote%20Desk:tech%2B1%40example.com?")).toBe(true);
    // Spaces percent-encoded, never "+", which authenticator apps would show literally.
    expect(uri).toContain("issuer=Remote%20Desk");
    const params = new URL(uri).searchParams;
    expect(params.get("issuer")).toBe("Remote Desk");
    expect(params.get("algorithm")).toBe("SHA1");
    expect(params.get("digits")).toBe("6");
    expect(params.get("period")).toBe("30");
    expect(params.get("secret")).toBe("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");

    const odd = totpKeyUri({ issuer: "RD", accountName: "a", secret: new Uint8Array([1, 2, 3]) });
    const secret = new URL(odd).searchParams.get("secret")!;
    expect(secret).not.toContain("=");
    expect(decodeBase32IgnorePadding(secret)).toEqual(new Uint8Array([1, 2, 3]));
  });

  it("refuses a colon in the issuer or account name", () => {
    expect(() => totpKeyUri({ issuer: "a:b", accountName: "x", secret: rfcSecret })).toThrow(/colon/);
    expect(() => totpKeyUri({ issuer: "RD", accountName: "x:y", secret: rfcSecret })).toThrow(/colon/);
  });

  it("renders the URI's QR code as an SVG with a quiet zone", () => {
    const uri = totpKeyUri({
      issuer: "Remote Desk",
      accountName: "tech@example.com",
      secret: newTotpSecret(),
    });
    const svg = totpQrSvg(uri);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    // One unit per module, so the viewBox is the module count; nothing dark in the 4-module border.
    const { size } = encode(uri, { ecc: "M", border: 4 });
    expect(svg).toContain(`viewBox="0 0 ${size} ${size}"`);
    const dark = [...svg.matchAll(/M(\d+),(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(dark.length).toBeGreaterThan(0);
    for (const coordinate of dark.flat()) {
      expect(coordinate).toBeGreaterThanOrEqual(4);
      expect(coordinate).toBeLessThan(size - 4);
    }
  });
});

describe("recovery codes", () => {
  it("makes ten unique codes of four groups from the unambiguous alphabet", () => {
    const codes = generateRecoveryCodes();
    expect(codes).toHaveLength(RECOVERY_CODE_COUNT);
    expect(new Set(codes).size).toBe(RECOVERY_CODE_COUNT);
    for (const code of codes) expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$/);
    expect(generateRecoveryCodes()).not.toEqual(codes);
  });

  it("normalises case, spaces, dashes and misread letters", () => {
    expect(normalizeRecoveryCode(" K7Q4-M2XD 9HRT-C1VB ")).toBe("k7q4m2xd9hrtc1vb");
    expect(normalizeRecoveryCode("k7q4-m2xd-9hrt-cIvB")).toBe("k7q4m2xd9hrtc1vb");
    expect(normalizeRecoveryCode("O0Ll")).toBe("0011");
  });

  it("hashes the normalised code with SHA-256, so any typing of it matches", () => {
    const [code] = generateRecoveryCodes() as [string];
    const hash = hashRecoveryCode(code);
    expect(hash).toBe(sha256Hex(normalizeRecoveryCode(code)));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hashRecoveryCode(` ${code.toUpperCase().replace(/-/g, " ")} `)).toBe(hash);
    expect(hashRecoveryCode(generateRecoveryCodes()[0]!)).not.toBe(hash);
  });
});
