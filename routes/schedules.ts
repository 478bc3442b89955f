/**
 * Cron jobs declared in code: `GET /v1/apps/:appId/schedules` (every job of the app, its next
 * run and recent runs) and `POST /v1/apps/:appId/schedules/run` with `{ "function", "environment"? }`
 * (runs one now, answers how it went).
 */
import { Hono } from "hono";
import type { Scheduler } from "../runtime/cron/scheduler.ts";
import { readJson } from "../runtime/body.ts";
import { badRequest, notFound } from "../runtime/errors.ts";
import { checkAppId, checkEnvironment } from "../runtime/ids.ts";
import type { AuthEnv } from "./auth.ts";

/** The schedules router; mount under an authenticated `/v1`. */
export function scheduleRoutes(scheduler: Scheduler): Hono<AuthEnv> {
  return new Hono<AuthEnv>()
    .get("/apps/:appId/schedules", async (c) => {
      const appId = checkAppId(c.req.param("appId") ?? "");
      const jobs = await scheduler.list(appId);
      return c.json({
        schedules: jobs.map((job) => ({
          function: job.file,
          environment: job.environment,
          deployment_id: job.deploymentId,
          cron: job.schedule.cron,
          timezone: job.schedule.timezone,
          next_run: job.nextRun?.toISOString() ?? null,
          history: job.history,
        })),
      });
    })
    .post("/apps/:appId/schedules/run", async (c) => {
      const appId = checkAppId(c.req.param("appId") ?? "");
      const body = await readJson(c.req.raw, 16 * 1024) as Record<string, unknown> | null;
      const file = body?.function;
      if (typeof file !== "string") {
        throw badRequest('the body must name the job: { "function": "api/cron.ts" }');
      }
      const environment = checkEnvironment(String(body?.environment ?? "production"));
      const run = await scheduler.runNow(appId, environment, file);
      if (!run) {
        throw notFound(`app "${appId}" has no cron job ${file} in environment "${environment}"`);
      }
      return c.json(run);
    });
}
