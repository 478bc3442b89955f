/**
 * The server's entry: reads configuration from the environment, builds the platform and
 * serves it. `--dev` (what `deno task dev` passes), when API_KEY is unset, uses the admin key
 * kept in `DATA_DIR/admin.key` (generated on the first start) and prints it with the Studio's URL.
 */
import { ConfigError, DEFAULT_DATA_DIR, loadConfig } from "./runtime/platform/config.ts";
import { devAdminKey } from "./runtime/platform/dev_key.ts";
import { createPlatform } from "./runtime/platform/platform.ts";
import { DatabaseInUseError } from "./runtime/platform/sqlite.ts";
import { createApp } from "./routes/app.ts";

const env = Deno.env.toObject();
let keyNote = "";
if (Deno.args.includes("--dev") && !env.API_KEY) {
  const dev = await devAdminKey(env.DATA_DIR || DEFAULT_DATA_DIR);
  env.API_KEY = dev.key;
  console.log(
    `API_KEY is not set; ${dev.created ? "generated" : "using"} the development key kept in ` +
      `${dev.path}:\n\n  export API_KEY=${dev.key}\n`,
  );
  keyNote = " (sign in with the key above)";
}

let config;
try {
  config = loadConfig(env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`configuration error: ${error.message}`);
  Deno.exit(2);
}

let platform;
try {
  platform = await createPlatform(config);
} catch (error) {
  if (!(error instanceof DatabaseInUseError)) throw error;
  console.error(error.message);
  Deno.exit(2);
}
const app = createApp(platform);
let server;
try {
  server = Deno.serve({
    port: config.port,
    hostname: config.hostname,
    onListen: ({ hostname, port }) => {
      platform.listening(port);
      const local = hostname === "0.0.0.0" || hostname === "::" ? "localhost" : hostname;
      console.log(`listening on http://${hostname}:${port}`);
      console.log(`Studio: http://${local}:${port}/studio${keyNote}`);
    },
  }, app.fetch);
} catch (error) {
  if (!(error instanceof Deno.errors.AddrInUse)) throw error;
  await platform.close();
  console.error(
    `port ${config.port} is in use: set PORT to another one (PORT=8080 deno task dev; 8001 is fn dev's)`,
  );
  Deno.exit(2);
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    await server.shutdown();
    await platform.close();
    Deno.exit(0);
  });
}
