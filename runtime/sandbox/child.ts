/**
 * Entry of a sandbox process: one per app, started by the host with no permissions but its
 * own IPC socket and a V8 heap cap, so a handler that exhausts memory takes down only this
 * process. It runs one Web Worker (no permissions at all) per loaded deployment and relays
 * messages between the workers and the host.
 */
import { encodeFrame, readFrames } from "./frames.ts";
import type { HostMessage, SandboxMessage } from "./protocol.ts";

/** How long a worker may take to answer a ping before it is judged stuck and replaced, in ms. */
const PING_GRACE_MS = 100;

const [socketPath, token] = Deno.args;
const conn = await Deno.connect({ transport: "unix", path: socketPath });
const writer = conn.writable.getWriter();
const send = (message: SandboxMessage) => void writer.write(encodeFrame(message));

let bootstrap = "";
const deployments = new Map<string, DeploymentWorker>();
/** Running invocation id → the deployment whose worker runs it. */
const running = new Map<string, DeploymentWorker>();

class DeploymentWorker {
  worker!: Worker;
  readonly inFlight = new Set<string>();
  #pongs: Array<() => void> = [];
  /** Set while a timed-out worker is being checked; new requests wait so they cannot die with it. */
  #checking: Promise<void> | null = null;

  constructor(readonly dep: string, readonly modules: Record<string, string>) {
    this.start(true);
  }

  start(report: boolean): void {
    const url = `data:text/javascript;charset=utf-8,${encodeURIComponent(bootstrap)}`;
    this.worker = new Worker(url, { type: "module", deno: { permissions: "none" } });
    this.worker.onmessage = (event: MessageEvent) => this.#onMessage(event.data, report);
    this.worker.onerror = (event) => {
      event.preventDefault();
      send({ t: "log", id: null, level: "error", message: `worker error: ${event.message}` });
    };
    this.worker.postMessage({ t: "load", dep: this.dep, modules: this.modules });
  }

  #onMessage(message: SandboxMessage | { t: "pong" }, report: boolean): void {
    if (message.t === "pong") {
      this.#pongs.splice(0).forEach((resolve) => resolve());
      return;
    }
    if (message.t === "loaded" || message.t === "load-failed") {
      if (report) send(message);
      return;
    }
    if (message.t === "result" || message.t === "failed") {
      if (!this.inFlight.delete(message.id)) return;
      running.delete(message.id);
    }
    send(message);
  }

  async invoke(message: Extract<HostMessage, { t: "invoke" }>): Promise<void> {
    while (this.#checking) await this.#checking;
    this.inFlight.add(message.id);
    running.set(message.id, this);
    this.worker.postMessage(message);
  }

  /** Drops an invocation; if the worker does not answer a ping, it is stuck and is replaced. */
  async cancel(id: string): Promise<void> {
    if (!this.inFlight.delete(id)) return;
    running.delete(id);
    if (this.#checking) return;
    this.#checking = (async () => {
      const alive = await Promise.race([
        new Promise<boolean>((resolve) => {
          this.#pongs.push(() => resolve(true));
          this.worker.postMessage({ t: "ping" });
        }),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), PING_GRACE_MS)),
      ]);
      if (!alive) this.restart();
    })();
    await this.#checking;
    this.#checking = null;
  }

  restart(): void {
    this.worker.terminate();
    this.#pongs = [];
    for (const id of this.inFlight) {
      running.delete(id);
      send({
        t: "failed",
        id,
        error: {
          kind: "restarted",
          message: "the function's worker was restarted because another request to it ran past " +
            "the time limit; this request was stopped with it",
        },
      });
    }
    this.inFlight.clear();
    this.start(false);
  }

  stop(): void {
    this.worker.terminate();
  }
}

send({ t: "hello", token });
for await (const raw of readFrames(conn.readable)) {
  const message = raw as HostMessage;
  switch (message.t) {
    case "init":
      bootstrap = message.bootstrap;
      break;
    case "load":
      if (!deployments.has(message.dep)) {
        deployments.set(message.dep, new DeploymentWorker(message.dep, message.modules));
      } else send({ t: "loaded", dep: message.dep });
      break;
    case "unload":
      deployments.get(message.dep)?.stop();
      deployments.delete(message.dep);
      break;
    case "invoke": {
      const target = deployments.get(message.dep);
      if (target) void target.invoke(message);
      else {
        send({
          t: "failed",
          id: message.id,
          error: { kind: "crashed", message: `deployment ${message.dep} is not loaded` },
        });
      }
      break;
    }
    case "cancel":
      void running.get(message.id)?.cancel(message.id);
      break;
    case "reply":
      running.get(message.id)?.worker.postMessage(message);
      break;
  }
}
// The host closed the socket: nothing left to serve.
Deno.exit(0);
