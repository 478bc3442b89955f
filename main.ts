/**
 * The server's entry: reads configuration from the environment, builds the platform and
 * serves it. `--dev` generates an API key when API_KEY is unset and prints it.
 */
import { ConfigError, loadConfig } from "./runtime/platform/config.ts";
import { createPlatform } from "./runtime/platform/platform.ts";
import { createApp } from "./routes/app.ts";

const env = Deno.env.toObject();
if (Deno.args.includes("--dev") && !env.API_KEY) {
  env.API_KEY = `dev_${crypto.randomUUID().replaceAll("-", "")}`;
  console.log(
    `API_KEY was not set; generated one for this run:\n\n  export API_KEY=${env.API_KEY}\n`,
  );
}

let config;
try {
  config = loadConfig(env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`configuration error: ${error.message}`);
  Deno.exit(2);
}

const platform = await createPlatform(config);
const app = createApp(platform);
const server = Deno.serve({
  port: config.port,
  hostname: config.hostname,
  onListen: ({ hostname, port }) => {
    platform.listening(port);
    console.log(`listening on http://${hostname}:${port}`);
  },
}, app.fetch);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    await server.shutdown();
    await platform.close();
    Deno.exit(0);
  });
}
