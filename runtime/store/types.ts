/** The seam between the platform and wherever deployments are kept. */
import type { Route } from "../router.ts";

/** An immutable, successful deployment with everything needed to serve it again. */
export interface Deployment {
  id: string;
  appId: string;
  environment: string;
  /** ISO 8601 time of creation. */
  createdAt: string;
  source: string | null;
  bundleS3Key: string | null;
  message: string | null;
  /** The deployed source files, path → text. */
  files: Record<string, string>;
  routes: Route[];
  /** Compiled route modules, route file → ES module source. */
  modules: Record<string, string>;
  /** Source maps of the compiled modules, route file → JSON text. */
  sourceMaps: Record<string, string>;
}

/** Keeps deployments and which one is live per app and environment. */
export interface DeploymentStore {
  /** Records a new deployment; it is never changed afterwards. */
  put(deployment: Deployment): Promise<void>;
  /** Reads a deployment of an app, or null. */
  get(appId: string, id: string): Promise<Deployment | null>;
  /** Makes `id` the live deployment of `appId` in `environment`. */
  setLive(appId: string, environment: string, id: string): Promise<void>;
  /** The live deployment id of `appId` in `environment`, or null. */
  getLive(appId: string, environment: string): Promise<string | null>;
}
