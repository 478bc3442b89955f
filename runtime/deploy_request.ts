/** Validates the JSON body of `POST /v1/apps/:appId/deploy`, naming the field that is wrong. */
import { badRequest } from "./errors.ts";
import { ENVIRONMENT } from "./ids.ts";

/** A deploy request, checked. */
export interface DeployRequest {
  environment: string;
  source: string | null;
  bundleS3Key: string | null;
  message: string | null;
  /** path → source text; a null-prototype-safe copy (built with Object.fromEntries). */
  files: Record<string, string>;
}

const TEXT_LIMITS = { source: 100, bundle_s3_key: 1024, message: 4096 } as const;

function optionalText(body: Record<string, unknown>, field: keyof typeof TEXT_LIMITS) {
  const value = body[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw badRequest(`${field} must be a string`);
  if (value.length > TEXT_LIMITS[field]) {
    throw badRequest(`${field} is longer than ${TEXT_LIMITS[field]} characters`);
  }
  return value;
}

/** Checks the body's shape and types; file contents are checked later by the compiler. */
export function parseDeployRequest(body: unknown): DeployRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest("the request body must be a JSON object");
  }
  const fields = body as Record<string, unknown>;
  const environment = fields.environment ?? "production";
  if (typeof environment !== "string" || !ENVIRONMENT.test(environment)) {
    throw badRequest('environment must be 1-32 characters of a-z, 0-9 and -, like "production"');
  }
  const files = fields.source_files;
  if (files === undefined) {
    throw badRequest(
      'source_files is required: an object of path → source text, like {"api/hello.ts": "..."}',
    );
  }
  if (typeof files !== "object" || files === null || Array.isArray(files)) {
    throw badRequest("source_files must be an object of path → source text");
  }
  for (const [path, text] of Object.entries(files)) {
    if (typeof text !== "string") {
      throw badRequest(`source_files[${JSON.stringify(path)}] must be a string of source text`);
    }
  }
  return {
    environment,
    source: optionalText(fields, "source"),
    bundleS3Key: optionalText(fields, "bundle_s3_key"),
    message: optionalText(fields, "message"),
    files: Object.fromEntries(Object.entries(files as Record<string, string>)),
  };
}
