/**
 * The embedded DeploymentStore: JSON files under a data folder, written atomically
 * (temp file + rename), so a restarted server serves what was deployed.
 *
 * Layout: `<dir>/apps/<appId>/deployments/<id>.json` and `<dir>/apps/<appId>/live.json`.
 */
import type { Deployment, DeploymentStore } from "./types.ts";

/** A DeploymentStore on the local disk; app and deployment ids must be path-safe (checked upstream). */
export class FileDeploymentStore implements DeploymentStore {
  readonly #dir: string;
  /** Serialises read-modify-write of each app's live.json. */
  #liveWrites = new Map<string, Promise<void>>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  async put(deployment: Deployment): Promise<void> {
    const folder = `${this.#appDir(deployment.appId)}/deployments`;
    await Deno.mkdir(folder, { recursive: true });
    await writeAtomic(`${folder}/${deployment.id}.json`, JSON.stringify(deployment));
  }

  async get(appId: string, id: string): Promise<Deployment | null> {
    return await readJson<Deployment>(`${this.#appDir(appId)}/deployments/${id}.json`);
  }

  setLive(appId: string, environment: string, id: string): Promise<void> {
    const previous = this.#liveWrites.get(appId) ?? Promise.resolve();
    const next = previous.then(async () => {
      const path = `${this.#appDir(appId)}/live.json`;
      const live = await readJson<Record<string, string>>(path) ?? {};
      live[environment] = id;
      await Deno.mkdir(this.#appDir(appId), { recursive: true });
      await writeAtomic(path, JSON.stringify(live));
    });
    this.#liveWrites.set(appId, next.catch(() => {}));
    return next;
  }

  async getLive(appId: string, environment: string): Promise<string | null> {
    const live = await readJson<Record<string, string>>(`${this.#appDir(appId)}/live.json`);
    return live && Object.hasOwn(live, environment) ? live[environment] : null;
  }

  #appDir(appId: string): string {
    return `${this.#dir}/apps/${appId}`;
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
