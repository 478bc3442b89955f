/**
 * API keys: the admin key from configuration, and per-app keys the admin creates. A per-app
 * key is `fnk_<id>_<secret>`; only a SHA-256 hash of the secret is stored, and every
 * comparison is constant-time.
 */
import { timingSafeEqual } from "node:crypto";
import { notFound } from "../errors.ts";
import { newId, toHex } from "../ids.ts";
import { encodeBase64 } from "../base64.ts";
import type { KeyStore } from "../store/types.ts";

/** Who an API call acts as. */
export type Principal = { kind: "admin" } | { kind: "app"; appId: string; keyId: string };

/** A per-app key as listings show it. */
export interface KeyInfo {
  id: string;
  app_id: string;
  created_at: string;
  /** The label given at creation, or null. */
  name: string | null;
}

const KEY_FORMAT = /^fnk_(key_[0-9a-f]{24})_([A-Za-z0-9_-]{43})$/;
/** Every per-app key inside a text (fixed-length parts, so matching is linear). */
const KEYS_IN_TEXT = /fnk_key_[0-9a-f]{24}_[A-Za-z0-9_-]{43}/g;

/**
 * `text` with every platform key in it (the admin key, anything shaped like a per-app key)
 * replaced: what the host applies to every header a function would see, so no key, valid or
 * not, ever reaches tenant code. Linear in the text.
 */
export function withoutPlatformKeys(text: string, adminKey: string): string {
  let out = text.includes(adminKey) ? text.replaceAll(adminKey, "[platform key removed]") : text;
  if (out.includes("fnk_key_")) out = out.replace(KEYS_IN_TEXT, "[platform key removed]");
  return out;
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

function fromHex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

/** Compares two secrets in constant time (their SHA-256 digests, so length leaks nothing either). */
async function secretsEqual(a: string, b: string): Promise<boolean> {
  return timingSafeEqual(await sha256(a), await sha256(b));
}

/** Creates, revokes and checks API keys. */
export class ApiKeys {
  readonly #store: KeyStore;
  readonly #adminKey: string;

  constructor(store: KeyStore, adminKey: string) {
    this.#store = store;
    this.#adminKey = adminKey;
  }

  /**
   * Creates a key for one app, labelled `name` if given; the returned `key` is shown once and
   * never stored.
   */
  async create(appId: string, name?: string): Promise<KeyInfo & { key: string }> {
    const id = newId("key");
    // base64url, so the key can sit in a header or a URL unchanged.
    const secret = encodeBase64(crypto.getRandomValues(new Uint8Array(32)))
      .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
    const createdAt = new Date().toISOString();
    const hash = toHex(await sha256(secret));
    await this.#store.putKey({ id, appId, hash, createdAt, ...(name ? { name } : {}) });
    return {
      id,
      app_id: appId,
      created_at: createdAt,
      name: name ?? null,
      key: `fnk_${id}_${secret}`,
    };
  }

  /** Revokes an app's key; throws 404 if the app has no such key. */
  async revoke(appId: string, id: string): Promise<void> {
    if (!(await this.#store.deleteKey(appId, id))) {
      throw notFound(`app "${appId}" has no API key ${id}`);
    }
  }

  /** The app's keys, without their secrets. */
  async list(appId: string): Promise<KeyInfo[]> {
    return (await this.#store.listKeys(appId))
      .sort((a, b) => a.createdAt < b.createdAt ? -1 : 1)
      .map((k) => ({ id: k.id, app_id: k.appId, created_at: k.createdAt, name: k.name ?? null }));
  }

  /** Who `token` is, or null if it is no valid key. */
  async authenticate(token: string): Promise<Principal | null> {
    if (await secretsEqual(token, this.#adminKey)) return { kind: "admin" };
    const match = token.match(KEY_FORMAT);
    if (!match) return null;
    const [, id = "", secret = ""] = match;
    const stored = await this.#store.getKey(id);
    const presented = await sha256(secret);
    // Compared even when the id is unknown, so timing does not tell which ids exist.
    const expected = stored ? fromHex(stored.hash) : new Uint8Array(presented.length);
    const equal = timingSafeEqual(presented, expected);
    return stored && equal ? { kind: "app", appId: stored.appId, keyId: stored.id } : null;
  }
}
