/**
 * Environment variables of each app environment: checked, sealed with the Cipher before they
 * are stored, masked when listed, and opened into `ctx.env` for requests (cached until any
 * instance changes a variable). Values are never echoed in errors.
 */
import { invalid, isUnavailable, notFound } from "../errors.ts";
import { appEnvKey, parseAppEnvKey } from "../ids.ts";
import { ReadCache } from "../store/read_cache.ts";
import { redactSecrets } from "./redact.ts";
import type { Cipher } from "./secrets.ts";
import type { StoredVar, VarStore } from "../store/types.ts";

/** What a variable name may be. */
export const VAR_NAME = /^[A-Z_][A-Z0-9_]{0,255}$/;
/** Largest value, in UTF-8 bytes (64 KB). */
const MAX_VAR_BYTES = 64 * 1024;
/** Most variables per app environment. */
const MAX_VARS = 100;

/** A variable as listings show it: never its value. */
export interface VarInfo {
  name: string;
  /** `••••` plus the last 4 characters for values of 16 characters or more, else `••••`. */
  preview: string;
  updated_at: string;
}

/** What a request gets: `env` for the handler, `secrets` (all of them) for the egress proxy. */
export interface RequestEnv {
  env: Record<string, string>;
  secrets: Record<string, string>;
}

/** Dependencies of the variables service. */
export interface EnvVarsOptions {
  store: VarStore;
  cipher: Cipher;
  /** Names kept from `ctx.env` because only the egress proxy may use them. */
  withheld: Set<string>;
}

/** Sets, lists and deletes variables, and serves them to requests. */
export class EnvVars {
  readonly #options: EnvVarsOptions;
  /** Per app environment key; keeps the last good values while the store is unreachable. */
  readonly #cache: ReadCache<string, RequestEnv>;
  /** Per app, the last values opened per environment, kept past invalidation for redacting events. */
  readonly #opened = new Map<string, Map<string, Record<string, string>>>();

  constructor(options: EnvVarsOptions) {
    this.#options = options;
    this.#cache = new ReadCache({
      read: (key) => {
        const { appId, environment } = parseAppEnvKey(key);
        return this.#open(appId, environment);
      },
      isOutage: isUnavailable,
      onValue: (key, opened) => {
        const { appId, environment } = parseAppEnvKey(key);
        let byEnvironment = this.#opened.get(appId);
        if (!byEnvironment) this.#opened.set(appId, byEnvironment = new Map());
        byEnvironment.set(environment, opened.secrets);
      },
    });
  }

  /** Sets a variable; true if it is new. Throws 400 naming what is wrong (never the value). */
  async set(appId: string, environment: string, name: string, value: unknown): Promise<boolean> {
    checkName(name);
    if (typeof value !== "string") throw invalid(`value of ${name} must be a string`);
    const bytes = new TextEncoder().encode(value).length;
    if (bytes > MAX_VAR_BYTES) {
      throw invalid(`value of ${name} is ${bytes} bytes, over the limit of ${MAX_VAR_BYTES}`);
    }
    const existing = await this.#options.store.listVars(appId, environment);
    const isNew = !Object.hasOwn(existing, name);
    if (isNew && Object.keys(existing).length >= MAX_VARS) {
      throw invalid(`environment ${environment} already has ${MAX_VARS} variables, the limit`);
    }
    const sealed = await this.#options.cipher.seal(value, context(appId, environment, name));
    await this.#options.store.putVar(appId, environment, name, {
      sealed,
      updatedAt: new Date().toISOString(),
    });
    this.invalidate(appId);
    return isNew;
  }

  /** Deletes a variable; throws 404 if it does not exist. */
  async delete(appId: string, environment: string, name: string): Promise<void> {
    checkName(name);
    const found = await this.#options.store.deleteVar(appId, environment, name);
    this.invalidate(appId);
    if (!found) throw noSuchVar(environment, name);
  }

  /** Lists an environment's variables with masked previews, by name. */
  async list(appId: string, environment: string): Promise<VarInfo[]> {
    const stored = await this.#options.store.listVars(appId, environment);
    return await Promise.all(
      Object.keys(stored).sort().map((name) => this.#info(appId, environment, name, stored[name]!)),
    );
  }

  /** One variable's masked listing entry; throws 404 if it does not exist. */
  async info(appId: string, environment: string, name: string): Promise<VarInfo> {
    checkName(name);
    const stored = await this.#options.store.listVars(appId, environment);
    if (!Object.hasOwn(stored, name)) throw noSuchVar(environment, name);
    return await this.#info(appId, environment, name, stored[name]!);
  }

  /**
   * The variables a request of this app environment sees; cached until `invalidate`, then read
   * again (the last values read, if the store is unreachable meanwhile).
   */
  forRequest(appId: string, environment: string): Promise<RequestEnv> | RequestEnv {
    const key = appEnvKey(appId, environment);
    // Cached and current: no promise, no turn (the hot path).
    return this.#cache.peek(key)?.current ?? this.#cache.get(key);
  }

  /** Marks an app's cached values changed; called after a change here or on another instance. */
  invalidate(appId: string): void {
    this.#cache.invalidate((key) => parseAppEnvKey(key).appId === appId);
  }

  /**
   * Redacts the app's variables (those opened so far on this instance, in any environment) from
   * a log line that belongs to no request, e.g. an error thrown in a timer.
   */
  redactForApp(appId: string, text: string): string {
    // One pass over every environment's values: none is searched for in another's marker. The
    // sets stay the same objects until a value changes, so their automaton is built once.
    return redactSecrets(text, ...this.#opened.get(appId)?.values() ?? []);
  }

  async #info(
    appId: string,
    environment: string,
    name: string,
    { sealed, updatedAt }: StoredVar,
  ): Promise<VarInfo> {
    const value = await this.#options.cipher.open(sealed, context(appId, environment, name));
    return { name, preview: mask(value), updated_at: updatedAt };
  }

  async #open(appId: string, environment: string): Promise<RequestEnv> {
    const stored = await this.#options.store.listVars(appId, environment);
    const env: Record<string, string> = {};
    const secrets: Record<string, string> = {};
    for (const [name, { sealed }] of Object.entries(stored)) {
      secrets[name] = await this.#options.cipher.open(sealed, context(appId, environment, name));
      if (!this.#options.withheld.has(name)) env[name] = secrets[name];
    }
    return { env, secrets };
  }
}

function checkName(name: string): void {
  if (!VAR_NAME.test(name)) {
    throw invalid(
      `variable name "${name.slice(0, 100)}" is invalid: use A-Z, 0-9 and _, ` +
        "not starting with a digit, at most 256 characters",
    );
  }
}

function noSuchVar(environment: string, name: string) {
  return notFound(`environment ${environment} has no variable ${name}`);
}

function context(appId: string, environment: string, name: string): string {
  return `${appId}/${environment}/${name}`;
}

function mask(value: string): string {
  return value.length >= 16 ? `••••${value.slice(-4)}` : "••••";
}
