/**
 * Deploying and serving deployments: compile, warm a sandbox, record, then switch the live
 * pointer in one step. A retired deployment's sandbox is stopped once its last request ends.
 */
import type { CompiledCode } from "./compile.ts";
import type { CompilerPool } from "./compiler/pool.ts";
import { CompileError, type Diagnostic } from "./diagnostic.ts";
import { type Job, parseSchedules } from "../cron/schedule.ts";
import { invalid, notFound, PlatformError } from "../errors.ts";
import { appEnvKey, DEPLOYMENT_ID, newId, parseAppEnvKey, RESERVED_APP_IDS } from "../ids.ts";
import { type Route, Router } from "./router.ts";
import { firstFrame } from "../sandbox/sourcemap.ts";
import {
  type DeploymentCode,
  type LoadableDeployment,
  LoadError,
  SandboxFailure,
} from "../sandbox/host/sandbox.ts";
import type { Supervisor } from "../sandbox/host/supervisor.ts";
import type {
  Deployment,
  DeploymentListQuery,
  DeploymentPage,
  DeploymentStore,
  ScheduleStore,
} from "../store/types.ts";

/**
 * A deployment being served, with its router and a count of the requests running on it. The
 * host keeps only its ids and routes: its code is read from the store when a sandbox loads it,
 * and its files are read when asked for, so a live environment costs the host its route table.
 */
export class LiveDeployment {
  readonly router: Router;
  #active = 0;
  #retired = false;
  #onIdle: () => void;

  constructor(readonly deployment: LoadableDeployment, routes: Route[], onIdle: () => void) {
    this.router = new Router(routes);
    this.#onIdle = onIdle;
  }

  /** Marks a request as running on this deployment; pair with `leave`. */
  enter(): void {
    this.#active++;
  }

  /** Marks a request as done; the last one out of a retired deployment unloads it. */
  leave(): void {
    this.#active--;
    if (this.#retired && this.#active === 0) this.#onIdle();
  }

  /** Called when another deployment replaced this one. */
  retire(): void {
    this.#retired = true;
    if (this.#active === 0) this.#onIdle();
  }
}

/** Where a deployment's module failed while loading: the first frame of its error, mapped. */
function loadDiagnostic(error: LoadError, deployment: Deployment): Diagnostic {
  const { file, message, stack } = error.failure;
  if (file) return { file, line: null, column: null, message };
  // The sandbox mapped the stack to the user's files as it formatted it.
  const frame = firstFrame(stack ?? "");
  if (!frame || !Object.hasOwn(deployment.files, frame.file)) {
    return { file: null, line: null, column: null, message };
  }
  return { ...frame, message: `${frame.file} failed to load: ${message}` };
}

/** A deploy or rollback that found no sandbox to load into; the caller may retry. */
function unavailable(error: SandboxFailure): PlatformError {
  return new PlatformError("unavailable", `the deployment could not be loaded: ${error.message}`, {
    retryAfterSeconds: 1,
    cause: error,
  });
}

/** A deploy request, checked by the API: where it goes, its notes, and its files. */
export interface DeployRequest {
  environment: string;
  source: string | null;
  bundleS3Key: string | null;
  message: string | null;
  /** path → source text. */
  files: Record<string, string>;
}

/** The cron jobs a live deployment brings to its environment. */
function jobsOf(deployment: Deployment): Job[] {
  const { appId, environment, id } = deployment;
  return Object.entries(deployment.schedules ?? {})
    .filter(([, schedule]) => schedule.environments.includes(environment))
    .map(([file, schedule]) => ({ appId, environment, deploymentId: id, file, schedule }));
}

/** Which deployments are live and previous, per environment (environment → deployment id). */
export interface DeploymentMarks {
  live: Record<string, string>;
  previous: Record<string, string>;
}

/** Dependencies of the deployments service. */
export interface DeploymentsOptions {
  store: DeploymentStore & ScheduleStore;
  sandboxes: Supervisor;
  /** Compiles deploys in bounded compile processes. */
  compiler: CompilerPool;
  /** Called after a deploy or rollback here changed an environment's cron jobs. */
  onJobsChanged?: () => void;
  /** Told of a deploy refused for a compile limit, to log it for the app. */
  onLimit?: (appId: string, message: string) => void;
  /** Most environments one app may have (MAX_ENVIRONMENTS); unbounded when absent. */
  maxEnvironments?: number;
  /**
   * Deployments kept per environment (DEPLOYMENTS_KEPT): older ones are deleted after each deploy,
   * never the live or the previous one; all are kept when absent.
   */
  keepDeployments?: number;
}

/** Deploys apps and answers which deployment serves an app's environment. */
export class Deployments {
  readonly #store: DeploymentStore & ScheduleStore;
  readonly #onJobsChanged: () => void;
  readonly #onLimit: (appId: string, message: string) => void;
  readonly #sandboxes: Supervisor;
  readonly #compiler: CompilerPool;
  readonly #maxEnvironments: number;
  readonly #keepDeployments: number;
  readonly #live = new Map<string, Promise<LiveDeployment | null>>();
  /** Serialises the live switch of each app and environment: the last deploy to finish wins. */
  readonly #switches = new Map<string, Promise<unknown>>();

  constructor(options: DeploymentsOptions) {
    this.#store = options.store;
    this.#sandboxes = options.sandboxes;
    this.#compiler = options.compiler;
    this.#maxEnvironments = options.maxEnvironments ?? Infinity;
    this.#keepDeployments = options.keepDeployments ?? Infinity;
    this.#onJobsChanged = options.onJobsChanged ?? (() => {});
    this.#onLimit = options.onLimit ?? (() => {});
  }

  /**
   * Compiles, warms and records a deployment, then makes it live; throws CompileError (400).
   * `deployedBy` is who asked: `admin` or a per-app key's id.
   */
  async deploy(appId: string, request: DeployRequest, deployedBy: string): Promise<Deployment> {
    if (RESERVED_APP_IDS.has(appId)) {
      throw invalid(
        `app id "${appId}" is reserved: ${[...RESERVED_APP_IDS].join(", ")} are host names ` +
          "the platform itself may be served at; pick another app id",
      );
    }
    await this.#checkEnvironments(appId, request.environment);
    let code: CompiledCode;
    try {
      code = await this.#compiler.compile(appId, request.files);
    } catch (error) {
      // A refusal for a compile limit (time, crash, size, nesting) goes to the app's log too.
      if (error instanceof CompileError && error.limit) this.#onLimit(appId, error.message);
      throw error;
    }
    const deployment: Deployment = {
      id: newId("dpl"),
      appId,
      environment: request.environment,
      createdAt: new Date().toISOString(),
      source: request.source,
      bundleS3Key: request.bundleS3Key,
      message: request.message,
      deployedBy,
      files: request.files,
      ...code,
    };
    let exported: unknown;
    try {
      exported = await this.#sandboxes.load(this.#loadable(deployment, code));
    } catch (error) {
      if (error instanceof SandboxFailure) throw unavailable(error);
      if (!(error instanceof LoadError)) throw error;
      throw new CompileError([loadDiagnostic(error, deployment)]);
    }
    const { schedules, problems } = parseSchedules(exported);
    if (problems.length > 0) {
      this.#sandboxes.release(deployment.id);
      throw new CompileError(problems);
    }
    if (Object.keys(schedules).length > 0) deployment.schedules = schedules;
    // Again, now that the compile and warm-up are done: another deploy may have made one since.
    try {
      await this.#checkEnvironments(appId, request.environment);
    } catch (error) {
      this.#sandboxes.release(deployment.id);
      throw error;
    }
    await this.#store.put(deployment);
    await this.#switchTo(deployment, true);
    await this.#prune(appId, request.environment);
    return deployment;
  }

  /**
   * Deletes the environment's deployments past the newest DEPLOYMENTS_KEPT (never the live or
   * the previous one). A failure leaves them for the next deploy: the deploy itself succeeded.
   */
  async #prune(appId: string, environment: string): Promise<void> {
    if (this.#keepDeployments === Infinity) return;
    await this.#store.pruneDeployments(appId, environment, this.#keepDeployments).catch(() => {});
  }

  /**
   * What the supervisor needs of a deployment: its ids, and a read of its code from the store at
   * each load. `first`, the code in hand, serves the first load only, so nothing the sandbox or
   * the live table keeps holds on to it.
   */
  #loadable(deployment: Deployment, first?: DeploymentCode): LoadableDeployment {
    const { id, appId, environment } = deployment;
    let inHand: DeploymentCode | undefined = first &&
      { modules: first.modules, sourceMaps: first.sourceMaps };
    return {
      id,
      appId,
      environment,
      code: () => {
        const code = inHand;
        inHand = undefined;
        return code ? Promise.resolve(code) : this.#store.getCode(appId, id);
      },
    };
  }

  /**
   * Makes another deployment of this environment live again, from its stored compiled code;
   * `id` null means the previous one (live before the current one), and 400 when there is none.
   */
  async rollback(appId: string, environment: string, id: string | null): Promise<Deployment> {
    if (id === null) {
      const previous = (await this.#store.previousOf(appId))[environment];
      if (!previous) {
        throw invalid(
          `deployment_id is required: app "${appId}" has no previous deployment in environment ` +
            `"${environment}" (one that was live before the current one) to roll back to`,
        );
      }
      id = previous;
    }
    const deployment = await this.get(appId, id);
    if (deployment.environment !== environment) {
      throw invalid(
        `deployment ${id} belongs to environment "${deployment.environment}", not "${environment}"`,
      );
    }
    try {
      await this.#sandboxes.load(this.#loadable(deployment, deployment));
    } catch (error) {
      if (error instanceof SandboxFailure) throw unavailable(error);
      if (!(error instanceof LoadError)) throw error;
      throw new PlatformError(
        "function-failed",
        `deployment ${id} failed to load again: ${error.failure.message}`,
        { cause: error },
      );
    }
    await this.#switchTo(deployment, true);
    return deployment;
  }

  /**
   * Deletes a non-production environment of an app: its deployments, live pointer, variables and
   * cron jobs (not the app's KV), and stops its sandbox now. Throws 400 for `production`, 404
   * when the app has no such environment. Serialised with the environment's live switches, so a
   * deploy finishing meanwhile does not bring it back.
   */
  async deleteEnvironment(appId: string, environment: string): Promise<void> {
    if (environment === "production") {
      throw invalid(
        `environment "production" cannot be deleted; delete a preview environment, or deploy ` +
          "another version to production",
      );
    }
    const key = appEnvKey(appId, environment);
    const run = (this.#switches.get(key) ?? Promise.resolve()).then(async () => {
      const served = await this.#live.get(key)?.catch(() => null);
      const found = await this.#store.deleteEnvironment(appId, environment);
      this.#live.delete(key);
      if (served) this.#sandboxes.stopDeployment(served.deployment.id);
      this.#onJobsChanged();
      if (!found) throw notFound(`app "${appId}" has no environment "${environment}"`);
    });
    this.#switches.set(key, run.catch(() => {}));
    await run;
  }

  /** Refuses (400, also logged for the app) a deploy that would give an app one environment too many. */
  async #checkEnvironments(appId: string, environment: string): Promise<void> {
    const live = Object.keys(await this.#store.liveOf(appId));
    if (live.includes(environment) || live.length < this.#maxEnvironments) return;
    const message = `environments per app: app "${appId}" has ${live.length} environments ` +
      `(${live.sort().join(", ")}), the most one app may have ` +
      `(MAX_ENVIRONMENTS=${this.#maxEnvironments}); delete one (DELETE ` +
      `/v1/apps/${appId}/environments/<env>, or fn env delete) before deploying to ` +
      `"${environment}"`;
    this.#onLimit(appId, message);
    throw invalid(message);
  }

  /** One deployment of an app; throws 404 if there is none with this id. */
  async get(appId: string, id: string): Promise<Deployment> {
    const deployment = DEPLOYMENT_ID.test(id) ? await this.#store.get(appId, id) : null;
    if (!deployment) throw notFound(`app "${appId}" has no deployment ${id}`);
    return deployment;
  }

  /** A page of an app's deployments, newest first. */
  list(appId: string, query: DeploymentListQuery): Promise<DeploymentPage> {
    return this.#store.list(appId, query);
  }

  /** Per environment, the live deployment id and the previous one (what a plain rollback restores). */
  async marks(appId: string): Promise<DeploymentMarks> {
    const [live, previous] = await Promise.all([
      this.#store.liveOf(appId),
      this.#store.previousOf(appId),
    ]);
    return { live, previous };
  }

  /**
   * Re-reads the live pointers of the given apps' environments served here and switches those
   * another instance changed; called when the store says these apps changed.
   */
  async refresh(appIds: Set<string>): Promise<void> {
    await Promise.all([...this.#live.entries()].map(async ([key, entry]) => {
      const { appId, environment } = parseAppEnvKey(key);
      if (!appIds.has(appId)) return;
      const current = await entry.catch(() => null);
      const id = await this.#store.getLive(appId, environment);
      if (!id && current) {
        // Another instance deleted the environment.
        this.#live.delete(key);
        this.#sandboxes.stopDeployment(current.deployment.id);
        return;
      }
      if (!id || id === current?.deployment.id) return;
      const deployment = await this.#store.get(appId, id);
      if (!deployment) return;
      await this.#sandboxes.load(this.#loadable(deployment, deployment)).catch(() => {});
      await this.#switchTo(deployment, false);
    }));
  }

  /** The deployment serving `appId` in `environment`, or null if it has none. */
  live(appId: string, environment: string): Promise<LiveDeployment | null> {
    const key = appEnvKey(appId, environment);
    let live = this.#live.get(key);
    if (!live) {
      live = this.#loadLive(appId, environment);
      this.#live.set(key, live);
      // A miss is not cached: the app may be deployed by the next request.
      live.then((found) => found ?? this.#live.delete(key), () => this.#live.delete(key));
    }
    return live;
  }

  async #loadLive(appId: string, environment: string): Promise<LiveDeployment | null> {
    const id = await this.#store.getLive(appId, environment);
    const deployment = id ? await this.#store.get(appId, id) : null;
    return deployment ? this.#serve(deployment) : null;
  }

  #serve(deployment: Deployment): LiveDeployment {
    // Only the id goes into the closure: capturing `deployment` would keep its files and code.
    const { id } = deployment;
    return new LiveDeployment(
      this.#loadable(deployment),
      deployment.routes,
      () => this.#sandboxes.release(id),
    );
  }

  /** Swaps the served deployment; `record` also moves the stored live pointer. */
  #switchTo(deployment: Deployment, record: boolean): Promise<void> {
    const key = appEnvKey(deployment.appId, deployment.environment);
    const previous = this.#switches.get(key) ?? Promise.resolve();
    const next = previous.then(async () => {
      const { appId, environment, id } = deployment;
      if (record) {
        await this.#store.setLive(appId, environment, id);
        await this.#store.putJobs(appId, environment, jobsOf(deployment));
        this.#onJobsChanged();
      } // A refresh may have read a pointer that a later switch has since moved: check again.
      else if (await this.#store.getLive(appId, environment) !== id) return;
      const old = await this.#live.get(key)?.catch(() => null);
      this.#live.set(key, Promise.resolve(this.#serve(deployment)));
      if (old && old.deployment.id !== deployment.id) old.retire();
    });
    this.#switches.set(key, next.catch(() => {}));
    return next;
  }
}
