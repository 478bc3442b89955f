/**
 * The deployment files a user applies as they are: every Kubernetes manifest of
 * deploy/kubernetes/ validates against the Kubernetes schemas (npm kubernetes-models) and meets
 * the platform's needs (probes, grace period, resources, disruption budget, wildcard Ingress, the
 * Secret), and compose.yaml validates against the compose-spec JSON schema (tests/schemas/,
 * from the compose-spec repository) with restart policies, health conditions and password-protected
 * Redis. The container test (tests/container/, `deno task test:container`) boots what it can.
 */
import assert from "node:assert/strict";
import { parse, parseAllDocuments } from "yaml";
import { Ajv } from "ajv";
import { ConfigMap, Namespace, Secret, Service } from "kubernetes-models/v1";
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1";
import { loadConfig } from "../runtime/platform/config.ts";

const ROOT = new URL("../", import.meta.url);
const K8S = new URL("deploy/kubernetes/", ROOT);

/** A Kubernetes object as read from YAML. */
// deno-lint-ignore no-explicit-any
type Manifest = Record<string, any>;

/** The model class of each kind the manifests use; `validate` throws on a schema violation. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/Secret": Secret,
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "networking.k8s.io/v1/Ingress": Ingress,
};

/** Validates one object against the schema of its kind; throws naming the object and the field. */
function validate(object: Manifest): void {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  assert.ok(Model, `no schema for ${object.apiVersion} ${object.kind}`);
  try {
    new Model(structuredClone(object) as never).validate();
  } catch (error) {
    throw new Error(`${object.kind} ${object.metadata?.name}: ${(error as Error).message}`);
  }
}

/** Every object of every file the kustomization lists, in order. */
async function manifests(): Promise<Manifest[]> {
  const kustomization = parse(await Deno.readTextFile(new URL("kustomization.yaml", K8S)));
  const objects: Manifest[] = [];
  for (const file of kustomization.resources as string[]) {
    const text = await Deno.readTextFile(new URL(file, K8S));
    for (const document of parseAllDocuments(text)) {
      assert.deepEqual(document.errors, [], `${file} is valid YAML`);
      objects.push(document.toJS());
    }
  }
  return objects;
}

function one(objects: Manifest[], kind: string, name: string): Manifest {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `there is a ${kind} named ${name}`);
  return found;
}

Deno.test("every Kubernetes manifest validates against its kind's schema", async () => {
  const objects = await manifests();
  assert.equal(objects.length, 9);
  for (const object of objects) validate(object);
  // The kustomization lists every manifest file of the folder, so none is forgotten.
  const kustomization = parse(await Deno.readTextFile(new URL("kustomization.yaml", K8S)));
  const files = [...Deno.readDirSync(K8S)].map((e) => e.name)
    .filter((name) => name.endsWith(".yaml") && name !== "kustomization.yaml");
  assert.deepEqual([...kustomization.resources].sort(), files.sort());
});

Deno.test("the schema check refuses a broken manifest, naming the field", async () => {
  const deployment = structuredClone(one(await manifests(), "Deployment", "server-functions"));
  deployment.spec.template.spec.containers[0].ports[0].containerPort = "8000";
  assert.throws(() => validate(deployment), /containerPort must be integer/);
  const ingress = structuredClone(one(await manifests(), "Ingress", "server-functions"));
  ingress.spec.rules[0].http.paths[0].pathType = "Sometimes";
  assert.throws(() => validate(ingress), /pathType/);
});

Deno.test("the platform Deployment: probes, grace period, resources and a disruption budget", async () => {
  const objects = await manifests();
  const config = one(objects, "ConfigMap", "server-functions").data;
  const deployment = one(objects, "Deployment", "server-functions");
  const pod = deployment.spec.template.spec;
  const [container] = pod.containers;
  assert.ok(deployment.spec.replicas >= 2, "more than one replica");
  // Readiness depends on Redis (/healthz); liveness does not, so a Redis outage restarts nothing.
  assert.equal(container.readinessProbe.httpGet.path, "/healthz");
  assert.notEqual(container.livenessProbe.httpGet.path, "/healthz");
  assert.match(container.livenessProbe.httpGet.path, /^\/v1\/types\.d\.ts$/);
  // With PLATFORM_HOST set, /healthz and /v1 answer on that host only: the probes send it.
  for (const probe of ["readinessProbe", "livenessProbe", "startupProbe"]) {
    const host = container[probe].httpGet.httpHeaders.find((h: Manifest) => h.name === "Host");
    assert.equal(host?.value, config.PLATFORM_HOST, `${probe} sends the platform host`);
  }
  const timeoutS = Number(config.FUNCTION_TIMEOUT_MS) / 1000;
  assert.ok(pod.terminationGracePeriodSeconds >= timeoutS + 5, "grace covers a request and 5 s");
  for (const key of ["cpu", "memory"]) {
    assert.ok(container.resources.requests[key], `a ${key} request`);
  }
  assert.ok(container.resources.limits.memory, "a memory limit (it sizes the defaults)");
  assert.equal(pod.securityContext.runAsNonRoot, true);
  const pdb = one(objects, "PodDisruptionBudget", "server-functions");
  assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
  assert.deepEqual(
    one(objects, "Service", "server-functions").spec.selector,
    deployment.spec.template.metadata.labels,
  );
  // The environment it gets is one the platform accepts.
  const env: Record<string, string> = { ...config };
  for (const entry of container.env) {
    env[entry.name] = entry.value ?? one(objects, "Secret", entry.valueFrom.secretKeyRef.name)
      .stringData[entry.valueFrom.secretKeyRef.key];
  }
  env.REDIS_URL = env.REDIS_URL!.replace("$(REDIS_PASSWORD)", env.REDIS_PASSWORD!);
  env.SECRETS_KEY = btoa("k".repeat(32));
  const loaded = loadConfig(env);
  assert.equal(loaded.redis?.kind, "tcp");
  assert.equal(loaded.timeoutMs / 1000, timeoutS);
});

Deno.test("the Ingress routes the platform host and the wildcard of app hosts to the Service", async () => {
  const objects = await manifests();
  const config = one(objects, "ConfigMap", "server-functions").data;
  const ingress = one(objects, "Ingress", "server-functions");
  const hosts = ingress.spec.rules.map((rule: Manifest) => rule.host);
  assert.deepEqual(hosts.sort(), [config.PLATFORM_HOST, `*.${config.BASE_DOMAIN}`].sort());
  for (const rule of ingress.spec.rules) {
    assert.equal(rule.http.paths[0].backend.service.name, "server-functions");
  }
  assert.deepEqual(ingress.spec.tls[0].hosts.sort(), hosts.sort());
});

Deno.test("Redis has a password from the Secret, a volume, and the platform's URL points at it", async () => {
  const objects = await manifests();
  const redis = one(objects, "StatefulSet", "redis");
  const [container] = redis.spec.template.spec.containers;
  assert.ok(container.args.includes("--requirepass"));
  assert.equal(
    container.env.find((e: Manifest) => e.name === "REDIS_PASSWORD").valueFrom.secretKeyRef.key,
    "REDIS_PASSWORD",
  );
  assert.ok(redis.spec.volumeClaimTemplates.length > 0, "Redis keeps its data on a volume");
  const platform = one(objects, "Deployment", "server-functions").spec.template.spec.containers[0];
  const url = platform.env.find((e: Manifest) => e.name === "REDIS_URL").value;
  assert.match(url, /^redis:\/\/:\$\(REDIS_PASSWORD\)@redis:6379$/);
  one(objects, "Service", "redis");
  const secret = one(objects, "Secret", "server-functions");
  assert.deepEqual(Object.keys(secret.stringData).sort(), [
    "API_KEY",
    "REDIS_PASSWORD",
    "SECRETS_KEY",
  ]);
});

/** compose.yaml, parsed. */
async function compose(): Promise<Manifest> {
  // `<<:` merge keys, which Compose reads, are opt-in in YAML 1.2.
  return parse(await Deno.readTextFile(new URL("compose.yaml", ROOT)), { merge: true });
}

Deno.test("compose.yaml validates against the compose-spec schema; a broken one does not", async () => {
  const schema = JSON.parse(
    await Deno.readTextFile(new URL("schemas/compose-spec.json", import.meta.url)),
  );
  // The schema names draft-07 by its https address, which Ajv (draft-07 by default) knows as http.
  delete schema.$schema;
  const ajv = new Ajv({ allErrors: true, strict: false });
  const check = ajv.compile(schema);
  const file = await compose();
  assert.ok(check(file), ajv.errorsText(check.errors));
  const broken = structuredClone(file);
  broken.services["functions-1"].restart = "sometimes";
  broken.services.redis.healthcheck.interval = 5;
  assert.equal(check(broken), false);
  assert.match(ajv.errorsText(check.errors), /restart|interval/);
});

Deno.test("compose.yaml: restart policies, health conditions, Redis with a password, no download at start", async () => {
  const file = await compose();
  const services = file.services as Record<string, Manifest>;
  for (const [name, service] of Object.entries(services)) {
    assert.ok(
      ["always", "unless-stopped", "on-failure"].includes(service.restart),
      `${name} restarts`,
    );
    assert.ok(service.healthcheck, `${name} has a health check`);
    assert.ok(!JSON.stringify(service.command ?? "").includes("npm:"), `${name} downloads nothing`);
    for (const [dependency, how] of Object.entries(service.depends_on ?? {})) {
      assert.equal(
        (how as Manifest).condition,
        "service_healthy",
        `${name} waits for ${dependency}`,
      );
    }
  }
  assert.ok(services.redis!.command.join(" ").includes("--requirepass"));
  for (const replica of ["functions-1", "functions-2"]) {
    assert.match(services[replica]!.environment.REDIS_URL, /^redis:\/\/:\$\{REDIS_PASSWORD/);
  }
  assert.ok(!("configs" in file), "no configs.content: Compose before 2.23 can read it");
});
