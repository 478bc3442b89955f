/**
 * Encryption at rest for environment variables: AES-256-GCM with WebCrypto, a fresh 12-byte
 * IV per value, and the value's app, environment and name as additional data, so a sealed
 * value copied to another variable or app fails to open instead of leaking there.
 */
import { decodeBase64, encodeBase64 } from "../base64.ts";

/** Length of the encryption key, in bytes (AES-256). */
export const SECRETS_KEY_BYTES = 32;

/** Seals and opens variable values with one AES-GCM key. */
export class Cipher {
  readonly #key: CryptoKey;

  private constructor(key: CryptoKey) {
    this.#key = key;
  }

  /** Imports a key given as base64 of 32 random bytes (SECRETS_KEY). */
  static async fromBase64(text: string): Promise<Cipher> {
    const raw = decodeBase64(text);
    if (raw.length !== SECRETS_KEY_BYTES) {
      throw new Error(`SECRETS_KEY must be base64 of ${SECRETS_KEY_BYTES} bytes`);
    }
    const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
    return new Cipher(key);
  }

  /** A new random key, as base64. */
  static generateKey(): string {
    return encodeBase64(crypto.getRandomValues(new Uint8Array(SECRETS_KEY_BYTES)));
  }

  /** Encrypts `value`, bound to `context`; returns base64 of IV + ciphertext. */
  async seal(value: string, context: string): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(context) },
        this.#key,
        new TextEncoder().encode(value),
      ),
    );
    const out = new Uint8Array(iv.length + sealed.length);
    out.set(iv);
    out.set(sealed, iv.length);
    return encodeBase64(out);
  }

  /** Decrypts what `seal` made with the same `context`; throws if it was tampered with. */
  async open(sealed: string, context: string): Promise<string> {
    const bytes = decodeBase64(sealed);
    const plain = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: bytes.subarray(0, 12),
        additionalData: new TextEncoder().encode(context),
      },
      this.#key,
      bytes.subarray(12),
    );
    return new TextDecoder().decode(plain);
  }
}
