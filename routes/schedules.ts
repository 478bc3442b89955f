/**
 * Cron jobs declared in code: `GET /v1/apps/:appId/schedules` (every job of the app, its next
 * run and recent runs, and whether the app's schedules are paused), `POST
 * /v1/apps/:appId/schedules/run` with `{ "function", "environment"? }` (runs one now, answers how
 * it went), and `POST /v1/apps/:appId/schedules/pause` and `/resume` (the app's own key may).
 */
import { Hono } from "hono";
import { z } from "zod";
import type { Scheduler } from "../runtime/cron/scheduler.ts";
import { notFound } from "../runtime/errors.ts";
import type { AuthEnv } from "./auth.ts";
import { defineRoute, type OpenApiRegistry } from "./openapi.ts";
import { appParams, environment } from "./schemas.ts";
import * as bodies from "./responses.ts";

const runBody = z.object({
  function: z.string({ error: 'the body must name the job: { "function": "api/cron.ts" }' }),
  environment: environment.default("production"),
}, { error: 'the body must name the job: { "function": "api/cron.ts" }' });

/** The schedules router; mount under an authenticated `/v1`. */
export function scheduleRoutes(scheduler: Scheduler, registry: OpenApiRegistry): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  defineRoute(app, registry, {
    method: "get",
    path: "/apps/:appId/schedules",
    summary: "An app's cron jobs, their next run and recent runs",
    tag: "schedules",
    params: appParams,
    responses: { 200: "the jobs" },
    returns: bodies.ScheduleList,
  }, async (c, { params }) => {
    const { paused, jobs } = await scheduler.list(params.appId);
    return c.json({
      paused,
      schedules: jobs.map((job) => ({
        function: job.file,
        environment: job.environment,
        deployment_id: job.deploymentId,
        cron: job.schedule.cron,
        timezone: job.schedule.timezone,
        next_run: paused ? null : job.nextRun?.toISOString() ?? null,
        history: job.history,
      })),
    });
  });
  defineRoute(app, registry, {
    method: "post",
    path: "/apps/:appId/schedules/run",
    summary: "Run one cron job now",
    tag: "schedules",
    params: appParams,
    body: runBody,
    responses: { 200: "how the run went", 404: "no such job" },
    returns: bodies.JobRun,
  }, async (c, { params, body }) => {
    const run = await scheduler.runNow(params.appId, body.environment, body.function);
    if (!run) {
      throw notFound(
        `app "${params.appId}" has no cron job ${body.function} in environment "${body.environment}"`,
      );
    }
    return c.json(run);
  });
  for (const action of ["pause", "resume"] as const) {
    defineRoute(app, registry, {
      method: "post",
      path: `/apps/:appId/schedules/${action}`,
      summary: action === "pause"
        ? "Pause every cron job of an app: no scheduled run starts until it is resumed"
        : "Resume the cron jobs of an app",
      tag: "schedules",
      params: appParams,
      responses: { 200: "{ paused } as it now is" },
      returns: bodies.Paused,
    }, async (c, { params }) => {
      await scheduler.setPaused(params.appId, action === "pause");
      return c.json({ paused: action === "pause" });
    });
  }
  return app;
}
