/**
 * The embedded PlatformStore: JSON files under a data folder, each written atomically
 * (temp file + rename), so a restarted server serves what was deployed. One server owns a
 * data folder; several instances share state through the Redis store instead.
 *
 * Layout under `<dir>/apps/<appId>/`: `deployments/<id>.json` (a deployment without its code),
 * `deployments/<id>.code.json` (its modules and source maps, what a sandbox loads; deployments
 * written before the split hold their code in `<id>.json`), `deployments.jsonl` (one summary
 * per line, the listing index), `live.json` (environment → id), `previous.json` (environment →
 * the id live before the current one), `vars/<env>.json`,
 * `rate-limit.json`; and
 * `<dir>/keys.json` (key id → stored key).
 */
import type { Job } from "../cron/schedule.ts";
import { jobKey } from "../cron/scheduler.ts";
import { appEnvKey } from "../ids.ts";
import type { RateLimit } from "../ratelimit/types.ts";
import {
  type Deployment,
  type DeploymentCode,
  type DeploymentListQuery,
  type DeploymentPage,
  type DeploymentSummary,
  type JobRun,
  MAX_JOB_RUNS,
  pageOf,
  type PlatformStore,
  type StoredKey,
  type StoredVar,
  summarize,
} from "./types.ts";

/** A PlatformStore on the local disk; app ids, environments and ids must be path-safe (checked upstream). */
export class FileStore implements PlatformStore {
  readonly #dir: string;
  /** Serialises read-modify-write of each JSON file. */
  readonly #writes = new Map<string, Promise<unknown>>();
  #version = 0;
  readonly #claims = new Map<string, number>();
  readonly #running = new Map<string, { token: string; until: number }>();
  readonly #runs = new Map<string, JobRun[]>();
  readonly #appVersions: Record<string, number> = Object.create(null);

  constructor(dir: string) {
    this.#dir = dir;
  }

  async put(deployment: Deployment): Promise<void> {
    const folder = `${this.#appDir(deployment.appId)}/deployments`;
    await Deno.mkdir(folder, { recursive: true });
    const { modules, sourceMaps, ...rest } = deployment;
    // The code first: a deployment file is never there without its code.
    await writeAtomic(
      `${folder}/${deployment.id}.code.json`,
      JSON.stringify({ modules, sourceMaps }),
    );
    await writeAtomic(`${folder}/${deployment.id}.json`, JSON.stringify(rest));
    const index = `${this.#appDir(deployment.appId)}/deployments.jsonl`;
    await this.#serial(
      index,
      () =>
        Deno.writeTextFile(index, JSON.stringify(summarize(deployment)) + "\n", { append: true }),
    );
  }

  async get(appId: string, id: string): Promise<Deployment | null> {
    const deployment = await readJson<Deployment>(`${this.#appDir(appId)}/deployments/${id}.json`);
    if (!deployment || deployment.modules) return deployment;
    const code = await this.getCode(appId, id);
    return code ? { ...deployment, ...code } : null;
  }

  async getCode(appId: string, id: string): Promise<DeploymentCode | null> {
    const folder = `${this.#appDir(appId)}/deployments`;
    const code = await readJson<DeploymentCode>(`${folder}/${id}.code.json`);
    if (code) return code;
    // Written before code had a file of its own.
    const whole = await readJson<Deployment>(`${folder}/${id}.json`);
    return whole?.modules ? { modules: whole.modules, sourceMaps: whole.sourceMaps ?? {} } : null;
  }

  async pruneDeployments(appId: string, environment: string, keep: number): Promise<number> {
    const dir = this.#appDir(appId);
    const index = `${dir}/deployments.jsonl`;
    const kept = new Set<string>([
      (await this.liveOf(appId))[environment] ?? "",
      (await this.previousOf(appId))[environment] ?? "",
    ]);
    let pruned = 0;
    await this.#serial(index, async () => {
      const lines = await this.#indexLines(index);
      const ids = lines.filter(([summary]) => summary.environment === environment)
        .map(([summary]) => summary.id).sort().reverse();
      const drop = new Set(ids.slice(keep).filter((id) => !kept.has(id)));
      if (drop.size === 0) return;
      await writeAtomic(
        index,
        lines.filter(([summary]) => !drop.has(summary.id)).map(([, line]) => `${line}\n`).join(""),
      );
      for (const id of drop) await this.#removeDeployment(appId, id);
      pruned = drop.size;
    });
    return pruned;
  }

  /** The index's summaries with their lines; lines cut short by a crash are left out. */
  async #indexLines(index: string): Promise<Array<[DeploymentSummary, string]>> {
    let text = "";
    try {
      text = await Deno.readTextFile(index);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const out: Array<[DeploymentSummary, string]> = [];
    for (const line of text.split("\n")) {
      try {
        if (line) out.push([JSON.parse(line), line]);
      } catch { /* see `list` */ }
    }
    return out;
  }

  async #removeDeployment(appId: string, id: string): Promise<void> {
    const folder = `${this.#appDir(appId)}/deployments`;
    await Deno.remove(`${folder}/${id}.json`).catch(() => {});
    await Deno.remove(`${folder}/${id}.code.json`).catch(() => {});
  }

  async list(appId: string, query: DeploymentListQuery): Promise<DeploymentPage> {
    let text = "";
    try {
      text = await Deno.readTextFile(`${this.#appDir(appId)}/deployments.jsonl`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const all: DeploymentSummary[] = [];
    for (const line of text.split("\n")) {
      // A line cut short by a crash mid-append is skipped; the deployment's own file is whole.
      try {
        if (line) all.push(JSON.parse(line));
      } catch { /* see above */ }
    }
    all.sort((a, b) => (a.id < b.id ? 1 : -1));
    return pageOf(all, query);
  }

  async setLive(appId: string, environment: string, id: string): Promise<void> {
    const replaced: { id?: string } = {};
    await this.#update<string>(`${this.#appDir(appId)}/live.json`, (live) => {
      if (Object.hasOwn(live, environment)) replaced.id = live[environment]!;
      live[environment] = id;
    });
    // One server owns this folder and its switches of one environment are serialised, so the
    // previous pointer written after the live one cannot interleave with another switch.
    const previous = replaced.id;
    if (previous !== undefined && previous !== id) {
      await this.#update<string>(`${this.#appDir(appId)}/previous.json`, (all) => {
        all[environment] = previous;
      });
    }
    this.#bump(appId);
  }

  async liveOf(appId: string): Promise<Record<string, string>> {
    return { ...await readJson<Record<string, string>>(`${this.#appDir(appId)}/live.json`) };
  }

  async previousOf(appId: string): Promise<Record<string, string>> {
    return { ...await readJson<Record<string, string>>(`${this.#appDir(appId)}/previous.json`) };
  }

  async deleteEnvironment(appId: string, environment: string): Promise<boolean> {
    const dir = this.#appDir(appId);
    const index = `${dir}/deployments.jsonl`;
    let found = false;
    await this.#serial(index, async () => {
      let text: string;
      try {
        text = await Deno.readTextFile(index);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return;
        throw error;
      }
      const kept: string[] = [];
      for (const line of text.split("\n")) {
        if (!line) continue;
        let summary: DeploymentSummary;
        try {
          summary = JSON.parse(line);
        } catch {
          continue; // cut short by a crash mid-append, as `list` skips it
        }
        if (summary.environment !== environment) kept.push(`${line}\n`);
        else {
          found = true;
          await this.#removeDeployment(appId, summary.id);
        }
      }
      await writeAtomic(index, kept.join(""));
    });
    await this.#update<string>(`${dir}/live.json`, (live) => {
      if (Object.hasOwn(live, environment)) found = true;
      delete live[environment];
    });
    await this.#update<string>(`${dir}/previous.json`, (previous) => {
      delete previous[environment];
    });
    const vars = this.#varsPath(appId, environment);
    await this.#serial(vars, () => Deno.remove(vars).catch(() => {}));
    await this.#update<Job[]>(`${this.#dir}/schedules.json`, (all) => {
      delete all[appEnvKey(appId, environment)];
    });
    this.#dropRuns(appId, environment, []);
    this.#bump(appId);
    return found;
  }

  async listApps(query: { after?: string; limit: number }) {
    const apps: string[] = [];
    try {
      for await (const entry of Deno.readDir(`${this.#dir}/apps`)) {
        if (entry.isDirectory && (!query.after || entry.name > query.after)) apps.push(entry.name);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    apps.sort();
    const page = apps.slice(0, query.limit);
    return { apps: page, next: apps.length > query.limit ? page.at(-1)! : null };
  }

  async getLive(appId: string, environment: string): Promise<string | null> {
    const live = await readJson<Record<string, string>>(`${this.#appDir(appId)}/live.json`);
    return live && Object.hasOwn(live, environment) ? live[environment]! : null;
  }

  async listVars(appId: string, environment: string): Promise<Record<string, StoredVar>> {
    const vars = await readJson<Record<string, StoredVar>>(this.#varsPath(appId, environment));
    return Object.assign(Object.create(null), vars ?? {});
  }

  async putVar(appId: string, environment: string, name: string, value: StoredVar) {
    await this.#update<StoredVar>(this.#varsPath(appId, environment), (vars) => {
      vars[name] = value;
    });
    this.#bump(appId);
  }

  async deleteVar(appId: string, environment: string, name: string): Promise<boolean> {
    let found = false;
    await this.#update<StoredVar>(this.#varsPath(appId, environment), (vars) => {
      found = Object.hasOwn(vars, name);
      delete vars[name];
      // Nothing to delete: no file is made for an environment that has no such variable.
      return found;
    });
    this.#bump(appId);
    return found;
  }

  async putKey(key: StoredKey): Promise<void> {
    await this.#update<StoredKey>(`${this.#dir}/keys.json`, (keys) => {
      keys[key.id] = key;
    });
  }

  async getKey(id: string): Promise<StoredKey | null> {
    const keys = await readJson<Record<string, StoredKey>>(`${this.#dir}/keys.json`);
    return keys && Object.hasOwn(keys, id) ? keys[id]! : null;
  }

  async listKeys(appId: string): Promise<StoredKey[]> {
    const keys = await readJson<Record<string, StoredKey>>(`${this.#dir}/keys.json`) ?? {};
    return Object.values(keys).filter((k) => k.appId === appId);
  }

  async deleteKey(appId: string, id: string): Promise<boolean> {
    let found = false;
    await this.#update<StoredKey>(`${this.#dir}/keys.json`, (keys) => {
      found = Object.hasOwn(keys, id) && keys[id]!.appId === appId;
      if (found) delete keys[id];
    });
    return found;
  }

  async getRateLimit(appId: string): Promise<RateLimit | null> {
    return await readJson<RateLimit>(`${this.#appDir(appId)}/rate-limit.json`);
  }

  async setRateLimit(appId: string, limit: RateLimit | null): Promise<void> {
    const path = `${this.#appDir(appId)}/rate-limit.json`;
    await this.#serial(path, async () => {
      if (limit === null) await Deno.remove(path).catch(() => {});
      else {
        await Deno.mkdir(this.#appDir(appId), { recursive: true });
        await writeAtomic(path, JSON.stringify(limit));
      }
    });
    this.#bump(appId);
  }

  async putJobs(appId: string, environment: string, jobs: Job[]): Promise<void> {
    await this.#update<Job[]>(`${this.#dir}/schedules.json`, (all) => {
      if (jobs.length > 0) all[appEnvKey(appId, environment)] = jobs;
      else delete all[appEnvKey(appId, environment)];
    });
    // The runs of jobs no longer deployed go with them: each deploy may name new files.
    this.#dropRuns(appId, environment, jobs);
    this.#bump(appId);
  }

  /** Forgets the runs of the app environment's jobs, but for those of `kept`. */
  #dropRuns(appId: string, environment: string, kept: Job[]): void {
    const prefix = jobKey({ appId, environment, file: "" });
    const keys = new Set(kept.map(jobKey));
    for (const key of [...this.#runs.keys()]) {
      if (key.startsWith(prefix) && !keys.has(key)) this.#runs.delete(key);
    }
  }

  async listJobs(): Promise<Job[]> {
    const all = await readJson<Record<string, Job[]>>(`${this.#dir}/schedules.json`);
    return Object.values(all ?? {}).flat();
  }

  /**
   * One server owns an embedded store, so claims live in its memory. They are kept in the order
   * they were made, which is the order they expire in (the scheduler claims with one TTL), so
   * purging stops at the first live one: O(1) amortised per claim.
   */
  claimTick(key: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    for (const [claimed, until] of this.#claims) {
      if (until > now) break;
      this.#claims.delete(claimed);
    }
    const until = this.#claims.get(key);
    if (until !== undefined && until > now) return Promise.resolve(false);
    this.#claims.delete(key);
    this.#claims.set(key, now + ttlMs);
    return Promise.resolve(true);
  }

  /** Runs under way live in memory too (one server owns the store). */
  startRun(jobKey: string, ttlMs: number): Promise<string | null> {
    const now = Date.now();
    const running = this.#running.get(jobKey);
    if (running && running.until > now) return Promise.resolve(null);
    const token = crypto.randomUUID();
    this.#running.set(jobKey, { token, until: now + ttlMs });
    return Promise.resolve(token);
  }

  endRun(jobKey: string, token: string): Promise<void> {
    if (this.#running.get(jobKey)?.token === token) this.#running.delete(jobKey);
    return Promise.resolve();
  }

  async setSchedulesPaused(appId: string, paused: boolean): Promise<void> {
    await this.#update<string>(`${this.#dir}/schedules-paused.json`, (all) => {
      if (paused) all[appId] = new Date().toISOString();
      else delete all[appId];
    });
    this.#bump(appId);
  }

  async pausedApps(): Promise<string[]> {
    return Object.keys(
      await readJson<Record<string, string>>(`${this.#dir}/schedules-paused.json`) ?? {},
    );
  }

  /** Runs are kept in memory: the history starts again after a restart. */
  addRun(jobKey: string, run: JobRun): Promise<void> {
    const runs = [run, ...(this.#runs.get(jobKey) ?? [])].slice(0, MAX_JOB_RUNS);
    this.#runs.set(jobKey, runs);
    return Promise.resolve();
  }

  listRuns(jobKey: string): Promise<JobRun[]> {
    return Promise.resolve([...(this.#runs.get(jobKey) ?? [])]);
  }

  version(): Promise<number> {
    return Promise.resolve(this.#version);
  }

  appVersions(): Promise<Record<string, number>> {
    return Promise.resolve({ ...this.#appVersions });
  }

  #bump(appId: string): void {
    this.#version++;
    this.#appVersions[appId] = (this.#appVersions[appId] ?? 0) + 1;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  #appDir(appId: string): string {
    return `${this.#dir}/apps/${appId}`;
  }

  #varsPath(appId: string, environment: string): string {
    return `${this.#appDir(appId)}/vars/${environment}.json`;
  }

  /**
   * Reads a JSON object file, lets `change` edit it, and writes it back atomically (not when
   * `change` answers false: it changed nothing).
   */
  #update<T>(
    path: string,
    change: (object: Record<string, T>) => void | boolean,
  ): Promise<void> {
    return this.#serial(path, async () => {
      const object = Object.assign(Object.create(null), await readJson(path) ?? {});
      if (change(object) === false) return;
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await writeAtomic(path, JSON.stringify(object));
    });
  }

  #serial(path: string, task: () => Promise<void>): Promise<void> {
    const next = (this.#writes.get(path) ?? Promise.resolve()).then(task);
    const settled = next.catch(() => {});
    this.#writes.set(path, settled);
    // The last write of a path lets its entry go: paths come from names clients choose.
    void settled.then(() => {
      if (this.#writes.get(path) === settled) this.#writes.delete(path);
    });
    return next;
  }
}

async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(temp, text);
  await Deno.rename(temp, path);
}
