/** Variables at rest: AES-256-GCM sealed to their app, environment and name. */
import assert from "node:assert/strict";
import { Cipher } from "../../runtime/vars/secrets.ts";

Deno.test("a sealed value opens in its own context only, and never shows its plaintext", async () => {
  const cipher = await Cipher.fromBase64(Cipher.generateKey());
  const sealed = await cipher.seal("s3cret-value", "shop\0production\0TOKEN");
  assert.ok(!sealed.includes("s3cret"));
  assert.notEqual(await cipher.seal("s3cret-value", "shop\0production\0TOKEN"), sealed, "fresh IV");
  assert.equal(await cipher.open(sealed, "shop\0production\0TOKEN"), "s3cret-value");
  await assert.rejects(cipher.open(sealed, "other\0production\0TOKEN"));
  const otherKey = await Cipher.fromBase64(Cipher.generateKey());
  await assert.rejects(otherKey.open(sealed, "shop\0production\0TOKEN"));
});

Deno.test("a key that is not 32 bytes of base64 is refused, saying so", async () => {
  await assert.rejects(Cipher.fromBase64(btoa("short")), /base64 of 32 bytes/);
});
