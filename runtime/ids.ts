/** Identifiers: what app and environment names may be, and how new ids are made. */

/**
 * The one app id rule. App ids are DNS labels (they become host names): 1-62 lower-case letters,
 * digits and single hyphens, starting and ending with a letter or digit (so never `--`, which
 * separates the environment in `<app>--<env>` host names).
 */
export const APP_ID = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,61}$/;
/**
 * App ids no app may take, because their host names (`www.<BASE_DOMAIN>`, `api.…`, `studio.…`)
 * are where the platform itself is commonly served; an app there would shadow it.
 */
export const RESERVED_APP_IDS: ReadonlySet<string> = new Set(["www", "api", "studio"]);

/** Environment names, e.g. `production`, `staging`, `pr-42`. */
export const ENVIRONMENT = /^[a-z0-9-]{1,32}$/;
/** Deployment ids, as `newId("dpl")` makes them. */
export const DEPLOYMENT_ID = /^dpl_[0-9a-f]{24}$/;
/** Per-app API key ids, as `newId("key")` makes them. */
export const KEY_ID = /^key_[0-9a-f]{24}$/;

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** Bytes as lower-case hex, two digits each. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += HEX[b];
  return out;
}

/**
 * Random bytes drawn a few thousand at a time: every request takes an id, and one
 * `getRandomValues` call with its buffer costs about ten times what the id's six bytes do when
 * read from here. Only ever read once, so ids stay unpredictable.
 */
const random = { bytes: new Uint8Array(3072), at: 3072 };
/** The hex time of the last id made, for ids made within the same millisecond. */
const clock = { ms: -1, hex: "" };

/** A new id that sorts by creation time: `<prefix>_<time in ms, hex><random hex>`. */
export function newId(prefix: string): string {
  const ms = Date.now();
  if (ms !== clock.ms) {
    clock.ms = ms;
    clock.hex = ms.toString(16).padStart(12, "0");
  }
  if (random.at + 6 > random.bytes.length) {
    crypto.getRandomValues(random.bytes);
    random.at = 0;
  }
  const b = random.bytes;
  const at = random.at;
  random.at += 6;
  return `${prefix}_${clock.hex}${HEX[b[at]!]}${HEX[b[at + 1]!]}${HEX[b[at + 2]!]}${
    HEX[b[at + 3]!]
  }${HEX[b[at + 4]!]}${HEX[b[at + 5]!]}`;
}

/** One map key for an app environment (neither part can contain NUL). */
export function appEnvKey(appId: string, environment: string): string {
  return `${appId}\u0000${environment}`;
}

/** The app and environment of a key made by `appEnvKey`. */
export function parseAppEnvKey(key: string): { appId: string; environment: string } {
  const [appId = "", environment = ""] = key.split("\u0000");
  return { appId, environment };
}
