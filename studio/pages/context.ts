/** What every page of an app is given by the app's frame (pages/app.ts). */
import type { DeploymentPage } from "../api.ts";
import type { LogFilters } from "../routes.ts";

/** The app and environment a page shows, with the deployments listing they share. */
export interface AppContext {
  app: string;
  env: string;
  /** Every environment with a live deployment, sorted, production first. */
  envs: string[];
  listing: DeploymentPage;
  filters: LogFilters;
  /** Loads the listing again (after a rollback, say). */
  reload: () => void;
}
