import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { loadConfig, loadConfigText } from "./load.ts";
import { absolutePath, yamlPath } from "./test_support.ts";

const VALID = `# as written for the Go tool
access_key: AKIAEXAMPLE
secret_access_key: not-a-real-secret
aws_region: eu-central-1
loglevel: debug
upload_workers: 4
watch_interval: 500ms
sites:
  - name: photos
    local_path: ${yamlPath("/srv/photos/")}
    bucket: my-bucket
    bucket_path: /photos
    storage_class: STANDARD_IA
    retire_deleted: true
    exclusions:
      - .[Dd][Ss]_[Ss]tore
      - \\.tmp$
`;
const load = (text: string) => loadConfigText(text, "test.yml", {}, 4);
const fails = (text: string, message: string | RegExp) =>
  assert.throws(() => load(text), { name: "ConfigError", message });

async function withFile(text: string, fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "s3sync-config-" });
  try {
    const path = join(dir, "config.yml");
    await Deno.writeTextFile(path, text);
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadConfig() reads, parses and resolves a Go-era config file", async () => {
  await withFile(VALID, async (path) => {
    const { config, warnings, text } = await loadConfig(path, {}, 4);
    assert.equal(text, VALID);
    assert.deepEqual(warnings, []);
    assert.equal(config.logLevel, "debug");
    assert.equal(config.uploadWorkers, 4);
    const site = config.sites[0];
    assert.equal(site?.name, "photos");
    assert.equal(site?.localPath, absolutePath("/srv/photos"));
    assert.equal(site?.bucketPath, "photos");
    assert.equal(site?.bucketRegion, "eu-central-1");
    assert.equal(site?.storageClass, "STANDARD_IA");
    assert.equal(site?.retireDeleted, true);
    assert.equal(site?.watchIntervalMs, 500);
    assert.equal(site?.exclusions.length, 2);
  });
});

Deno.test("loadConfig() names the file and the cause when it cannot read it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "s3sync-config-" });
  try {
    const missing = join(dir, "missing.yml");
    await assert.rejects(loadConfig(missing, {}, 4), {
      name: "ConfigError",
      // JSON-quoted, as load.ts writes it: a Windows path's "\" is doubled.
      message: `Cannot read config file ${JSON.stringify(missing)}: no such file`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "loadConfig() says when the path is a directory",
  // Windows refuses to open a folder as a file with "Access is denied", so the reason given
  // there is "permission denied".
  ignore: Deno.build.os === "windows",
  async fn() {
    await withFile(VALID, async (path) => {
      const dir = dirname(path);
      await assert.rejects(loadConfig(dir, {}, 4), {
        name: "ConfigError",
        message: `Cannot read config file ${JSON.stringify(dir)}: it is a directory`,
      });
    });
  },
});

Deno.test({
  name: "loadConfig() says permission denied for an unreadable file",
  // Windows files have ACLs, not mode bits: chmod there sets at most the read-only flag.
  ignore: Deno.build.os === "windows",
  async fn() {
    await withFile(VALID, async (path) => {
      await Deno.chmod(path, 0o000);
      // root reads any file, so there is nothing to check when the tests run as root.
      const readable = await Deno.readTextFile(path).then(() => true, () => false);
      if (readable) return;
      await assert.rejects(loadConfig(path, {}, 4), {
        message: `Cannot read config file ${JSON.stringify(path)}: permission denied`,
      });
    });
  },
});

Deno.test("loadConfigText() rejects an empty or comment-only file", () => {
  fails("", 'the config is empty: it must be a mapping with at least "sites"');
  fails("# nothing yet\n", 'the config is empty: it must be a mapping with at least "sites"');
  fails("- a\n- b\n", "the config must be a mapping of settings, got a list");
});

Deno.test("loadConfigText() reports YAML syntax errors with line and column", () => {
  fails(
    "sites:\n  - bucket: b\n    local_path: [/data\n",
    /^Invalid YAML in "test\.yml" at line 4, column 1: /,
  );
  fails(
    "a: 1\nb: 2\na: 3\n",
    'Invalid YAML in "test.yml" at line 3, column 1: Map keys must be unique',
  );
  fails(
    "a: 1\n---\nb: 2\n",
    'Invalid YAML in "test.yml" at line 2, column 1: it holds more than one YAML document ' +
      '(remove the "---" separator)',
  );
});

Deno.test("loadConfigText() keeps the source line, maybe a secret, out of syntax errors", () => {
  const secret = "wJalrXUtnFEMI-K7MDENG-SECRET";
  assert.throws(() => load(`secret_access_key: "${secret}\nsites: []\n`), (err: Error) => {
    assert.match(err.message, /^Invalid YAML in "test\.yml" at line \d+, column \d+: /);
    assert.ok(!err.message.includes(secret), err.message);
    assert.ok(!err.message.includes("\n"), err.message);
    return true;
  });
});

Deno.test("loadConfigText() rejects an alias bomb clearly", () => {
  const rows = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
  for (const [name, prev] of [["b", "a"], ["c", "b"], ["d", "c"], ["e", "d"], ["f", "e"]]) {
    rows.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(", ")}]`);
  }
  fails(
    rows.join("\n") + "\n",
    'Invalid YAML in "test.yml": Excessive alias count indicates a resource exhaustion attack',
  );
});

Deno.test("loadConfigText() rejects an alias to an undefined anchor", () => {
  fails("a: *nowhere\n", /^Invalid YAML in "test\.yml": .*nowhere/);
});

Deno.test("loadConfigText() allows a few aliases and << merge keys, as the Go tool did", () => {
  const text =
    `defaults: &site {local_path: ${yamlPath("/data")}, bucket: b, retire_deleted: true}\n` +
    "sites:\n  - *site\n  - {<<: *site, bucket: c}\n";
  const { config, warnings } = load(text);
  assert.deepEqual(config.sites.map((s) => [s.bucket, s.localPath, s.retireDeleted]), [
    ["b", absolutePath("/data"), true],
    ["c", absolutePath("/data"), true],
  ]);
  assert.deepEqual(warnings, ["defaults: unknown key, ignored"]);
});

Deno.test("loadConfigText() passes environment and CPU count through", () => {
  const text = `sites: [{local_path: ${yamlPath("/data")}, bucket: b}]\n`;
  const { config } = loadConfigText(text, "cm", { KUBERNETES_SERVICE_HOST: "k" }, 64);
  assert.equal(config.checksumWorkers, 2);
  assert.equal(
    loadConfigText(text, "cm", { AWS_REGION: "sa-east-1" }, 1).config.sites[0]?.bucketRegion,
    "sa-east-1",
  );
});

Deno.test("loadConfigText() reads YAML 1.2: yes is a string, not a boolean", () => {
  fails(
    `sites: [{local_path: ${yamlPath("/data")}, bucket: b, retire_deleted: yes}]\n`,
    'sites[0].retire_deleted: must be true or false, got "yes"',
  );
});

Deno.test("loadConfigText() rejects YAML nested too deeply, without crashing", () => {
  const deep = `sites: ${"[".repeat(20_000)}${"]".repeat(20_000)}\n`;
  assert.throws(() => loadConfigText(deep, "deep.yml", {}, 2), {
    name: "ConfigError",
    message:
      /^Invalid YAML in "deep\.yml" at line 1, column \d+: Maximum call stack size exceeded$/,
  });
});

Deno.test("loadConfigText() rejects wrong types and huge numbers with the field's rule", () => {
  const site = `sites: [{ local_path: ${yamlPath("/data")}, bucket: b }]\n`;
  assert.throws(() => loadConfigText(`upload_workers: 1e300\n${site}`, "c.yml", {}, 2), {
    name: "ConfigError",
    message: /^upload_workers: must be "auto" or an integer from 1 to 1024, got /,
  });
  assert.throws(() => loadConfigText(`sites: {local_path: /data}\n`, "c.yml", {}, 2), {
    name: "ConfigError",
    message: /^sites: must be a non-empty list of sites/,
  });
});
