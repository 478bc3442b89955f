/**
 * What the `/v1` routes answer, as zod schemas: the success bodies, declared beside each route
 * (`returns`) and published in `/v1/openapi.json` as shared component schemas (the `id` each
 * has here names it under `components.schemas`). Objects are strict in the document (no
 * undocumented field), so the test suite's response check (tests/contract.ts) fails on any
 * field a route adds without declaring it here.
 */
import { z } from "zod";
import { LOG_LEVELS } from "../runtime/sandbox/protocol.ts";
import { APP_ID, DEPLOYMENT_ID, ENVIRONMENT } from "../runtime/ids.ts";

const time = z.string().describe("ISO 8601 time");
const appIdValue = z.string().regex(APP_ID);
const environmentValue = z.string().regex(ENVIRONMENT);
const deploymentIdValue = z.string().regex(DEPLOYMENT_ID);

/** The one error body: `error` says what was wrong and where; some kinds add details. */
export const ErrorBody = z.looseObject({
  error: z.string().describe("what was wrong, and where"),
  diagnostics: z.array(z.object({
    file: z.string().nullable(),
    line: z.number().int().nullable(),
    column: z.number().int().nullable(),
    message: z.string(),
  })).optional().describe("a deploy refused for its code: every problem found"),
}).meta({ id: "Error" });

/** One route of a deployment. */
export const Route = z.object({
  pattern: z.string().describe("the URL pattern, like /functions/users/[id]"),
  file: z.string().describe("the route file, like api/users/[id].ts"),
}).meta({ id: "Route" });

/** A deployment (`source_files` only when one deployment is read). */
export const Deployment = z.object({
  id: deploymentIdValue,
  app_id: appIdValue,
  environment: environmentValue,
  created_at: time,
  source: z.string().nullable(),
  bundle_s3_key: z.string().nullable(),
  message: z.string().nullable(),
  deployed_by: z.string().describe("admin, or the id of the per-app key that deployed"),
  routes: z.array(Route),
  packages: z.record(z.string(), z.string()).describe(
    "name → version of each npm package fn deploy bundled into it (empty when none)",
  ),
  live: z.boolean().describe("it serves its environment now"),
  previous: z.boolean().describe("it was live before the current one (a plain rollback's target)"),
  source_files: z.record(z.string(), z.string()).optional().describe("path → source text"),
  url: z.string().optional().describe(
    "on a deploy's answer: the app environment's own URL (<app>.<BASE_DOMAIN>), where its " +
      "functions are served with cookies and scripts; append a route's pattern",
  ),
}).meta({ id: "Deployment" });

/** Environment → deployment id. */
const marks = z.record(z.string(), deploymentIdValue);

/** A page of deployments, and each environment's live and previous one. */
export const DeploymentPage = z.object({
  deployments: z.array(Deployment),
  next_cursor: deploymentIdValue.nullable(),
  live: marks,
  previous: marks,
}).meta({ id: "DeploymentPage" });

/** An app in the apps listing. */
export const App = z.object({
  id: appIdValue,
  environments: z.array(z.object({ name: environmentValue, live_deployment: deploymentIdValue })),
  last_deploy_at: time.nullable(),
  requests_last_hour: z.number().int(),
  errors_last_hour: z.number().int(),
}).meta({ id: "App" });

/** A page of apps. */
export const AppPage = z.object({
  apps: z.array(App),
  next_cursor: appIdValue.nullable(),
}).meta({ id: "AppPage" });

/** One runtime log entry. */
export const LogEntry = z.object({
  id: z.string().describe("<ms>-<seq>: unique per app, ordered by time"),
  time,
  level: z.enum(LOG_LEVELS),
  type: z.enum(["console", "request", "event"]),
  app_id: z.string(),
  environment: z.string().nullable(),
  deployment_id: z.string().nullable(),
  function: z.string().nullable(),
  request_id: z.string().nullable(),
  message: z.string(),
  method: z.string().optional(),
  path: z.string().optional(),
  status: z.number().int().optional(),
  duration_ms: z.number().optional(),
}).meta({ id: "LogEntry" });

/** A page of log entries, newest first. */
export const LogPage = z.object({
  entries: z.array(LogEntry),
  next_cursor: z.string().nullable(),
}).meta({ id: "LogPage" });

/** The events of the live log tail, by name: their `data` JSON. */
export const LogEvents = {
  ready: z.object({}).describe("first: the tail is subscribed"),
  log: LogEntry,
  closed: z.object({ error: z.string() }).describe(
    "last: the reader fell too far behind and the tail was closed",
  ),
};

/** A variable, masked. */
export const Variable = z.object({
  name: z.string(),
  preview: z.string().describe("•••• plus the last 4 characters of values of 16 or more"),
  updated_at: time,
}).meta({ id: "Variable" });

/** An environment's variables. */
export const VariableList = z.object({ vars: z.array(Variable) }).meta({ id: "VariableList" });

/** A variable just written. */
export const VariableWritten = z.object({ name: z.string(), environment: environmentValue })
  .meta({ id: "VariableWritten" });

/** A per-app API key, without its secret. */
export const ApiKey = z.object({
  id: z.string(),
  app_id: appIdValue,
  created_at: time,
  name: z.string().nullable().describe("the label given at creation"),
}).meta({ id: "ApiKey" });

/** An app's keys. */
export const ApiKeyList = z.object({ keys: z.array(ApiKey) }).meta({ id: "ApiKeyList" });

/** A key just created: the only time its secret is shown. */
export const NewApiKey = ApiKey.extend({
  key: z.string().describe("the secret key, shown once: fnk_<id>_<secret>"),
}).meta({ id: "NewApiKey" });

const bucket = { rps: z.number(), burst: z.number().int() };

/** An app's rate limit, with the per-function ones. */
export const RateLimit = z.object({
  ...bucket,
  functions: z.record(z.string(), z.object(bucket)).describe("route file → its own bucket"),
}).meta({ id: "RateLimit" });

/** One run of a cron job. */
export const JobRun = z.object({
  scheduled_at: time,
  duration_ms: z.number(),
  status: z.number().int().describe("the handler's HTTP status; 0 for a skipped run"),
  outcome: z.enum(["ok", "error", "skipped"]),
  request_id: z.string(),
  error: z.string().optional(),
  trigger: z.enum(["schedule", "manual"]),
}).meta({ id: "JobRun" });

/** An app's cron jobs. */
export const ScheduleList = z.object({
  paused: z.boolean(),
  schedules: z.array(z.object({
    function: z.string(),
    environment: environmentValue,
    deployment_id: deploymentIdValue,
    cron: z.string(),
    timezone: z.string(),
    next_run: time.nullable(),
    history: z.array(JobRun).describe("newest first"),
  })),
}).meta({ id: "ScheduleList" });

/** Whether an app's schedules are paused. */
export const Paused = z.object({ paused: z.boolean() }).meta({ id: "Paused" });

/** A page of KV keys. */
export const KvPage = z.object({
  keys: z.array(z.string()),
  cursor: z.string().nullable().describe("pass back for the next page; null when done"),
  done: z.boolean(),
}).meta({ id: "KvPage" });

/** One KV entry. */
export const KvEntry = z.object({
  key: z.string(),
  value: z.string(),
  expires_at: time,
}).meta({ id: "KvEntry" });

/** A KV key just written. */
export const KvWritten = z.object({ key: z.string() }).meta({ id: "KvWritten" });

const point = z.object({
  minute: time.describe("ISO 8601 start of the point's first minute"),
  requests: z.number().int(),
  errors: z.number().int().describe("5xx answers"),
  client_errors: z.number().int().optional().describe("4xx answers"),
  p50_ms: z.number().nullable(),
  p99_ms: z.number().nullable(),
});

/** An app's metrics series and its busiest functions'. */
export const MetricsSeries = z.object({
  step_minutes: z.number().int(),
  app: z.array(point),
  functions: z.record(z.string(), z.array(point)),
  functions_omitted: z.number().int(),
  shared: z.boolean().describe(
    "true: every instance's requests count (Redis); false: this instance's only (memory)",
  ),
}).meta({ id: "MetricsSeries" });

/** An OpenAPI 3.1 document (this API's own). */
export const OpenApiDocument = z.looseObject({
  openapi: z.string(),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.looseObject({})),
}).meta({ id: "OpenApiDocument" });
