import assert from "node:assert/strict";
import { isAbsolute, join } from "node:path";
import { TEST_CA_PEM } from "../../tests/test_cert.ts";
import { readCaBundle } from "./ca_bundle.ts";
import { resolveConfig } from "./resolve.ts";
import { absolutePath } from "./test_support.ts";

const SITE = { local_path: absolutePath("/data"), bucket: "b" };

async function withFiles(run: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "ca.pem"), `subject=CN=test\n${TEST_CA_PEM}`);
    await Deno.writeTextFile(join(dir, "two.pem"), `${TEST_CA_PEM}${TEST_CA_PEM}`);
    await Deno.writeTextFile(join(dir, "key.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n");
    await Deno.writeTextFile(
      join(dir, "broken.pem"),
      `${TEST_CA_PEM}-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n`,
    );
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("readCaBundle() reads each certificate of the file, and nothing when unset", async () => {
  await withFiles((dir) => {
    assert.deepEqual(readCaBundle(join(dir, "ca.pem"), "ca_bundle"), {
      path: join(dir, "ca.pem"),
      certificates: [TEST_CA_PEM.trim()],
    });
    assert.equal(readCaBundle(join(dir, "two.pem"), "ca_bundle")?.certificates.length, 2);
    assert.equal(readCaBundle(undefined, "ca_bundle"), undefined);
    assert.equal(readCaBundle("", "AWS_CA_BUNDLE"), undefined);
  });
});

Deno.test("readCaBundle() refuses a missing, empty or broken file, naming the key and the path", async () => {
  await withFiles((dir) => {
    const fails = (path: string, message: RegExp) =>
      assert.throws(() => readCaBundle(path, "sites[0].ca_bundle"), {
        name: "ConfigError",
        message,
      });
    fails(
      join(dir, "nope.pem"),
      /^sites\[0\]\.ca_bundle: cannot read ".*nope\.pem": no such file$/,
    );
    fails(dir, /^sites\[0\]\.ca_bundle: cannot read ".*": /);
    fails(join(dir, "key.pem"), /^sites\[0\]\.ca_bundle: ".*key\.pem" holds no PEM certificate/);
    fails(
      join(dir, "broken.pem"),
      /^sites\[0\]\.ca_bundle: certificate 2 of ".*broken\.pem" is not a valid certificate/,
    );
  });
});

Deno.test("readCaBundle() wants an absolute path in the config, and takes AWS_CA_BUNDLE as the shell would", async () => {
  await withFiles((dir) => {
    assert.throws(() => readCaBundle("certs/ca.pem", "ca_bundle"), {
      name: "ConfigError",
      message: 'ca_bundle: must be an absolute path, got "certs/ca.pem"',
    });
    assert.throws(() => readCaBundle(5, "ca_bundle"), { message: /ca_bundle: must be a string/ });
    const cwd = Deno.cwd();
    Deno.chdir(dir);
    try {
      // The same file, compared by real path: macOS puts temp folders under a link (/var ->
      // /private/var) and Windows may spell them with 8.3 short names (RUNNER~1).
      const path = readCaBundle("ca.pem", "AWS_CA_BUNDLE")?.path ?? "";
      assert.ok(isAbsolute(path), path);
      assert.equal(Deno.realPathSync(path), Deno.realPathSync(join(dir, "ca.pem")));
    } finally {
      Deno.chdir(cwd);
    }
  });
});

Deno.test("resolveConfig() gives each site its own ca_bundle, else the global one, else AWS_CA_BUNDLE", async () => {
  await withFiles((dir) => {
    const env = { AWS_CA_BUNDLE: join(dir, "two.pem") };
    const withGlobal = resolveConfig(
      {
        ca_bundle: join(dir, "ca.pem"),
        sites: [SITE, { ...SITE, bucket: "c", ca_bundle: join(dir, "two.pem") }],
      },
      env,
      4,
    ).config;
    assert.deepEqual(withGlobal.sites.map((s) => s.caBundle?.path), [
      join(dir, "ca.pem"),
      join(dir, "two.pem"),
    ]);
    const fromEnv = resolveConfig({ sites: [SITE] }, env, 4).config;
    assert.equal(fromEnv.sites[0]?.caBundle?.path, join(dir, "two.pem"));
    assert.equal(resolveConfig({ sites: [SITE] }, {}, 4).config.sites[0]?.caBundle, undefined);
    // The variable is not read when the config names a bundle, so a stale one does no harm.
    const stale = { AWS_CA_BUNDLE: join(dir, "gone.pem") };
    assert.ok(resolveConfig({ ca_bundle: join(dir, "ca.pem"), sites: [SITE] }, stale, 4));
    assert.throws(() => resolveConfig({ sites: [SITE] }, stale, 4), {
      name: "ConfigError",
      message: /^AWS_CA_BUNDLE: cannot read/,
    });
  });
});

Deno.test("resolveConfig() gives every site the proxy variables, and refuses a bad one by name", () => {
  const env = { https_proxy: "http://u:p@proxy.corp:3128", NO_PROXY: ".corp" };
  const { config } = resolveConfig({ sites: [SITE, { ...SITE, bucket: "c" }] }, env, 4);
  for (const site of config.sites) {
    assert.deepEqual(site.proxy, {
      httpsProxy: "http://u:p@proxy.corp:3128/",
      httpProxy: undefined,
      noProxy: ".corp",
    });
    assert.ok(Object.isFrozen(site.proxy));
  }
  assert.equal(
    resolveConfig({ sites: [SITE] }, { NO_PROXY: "x" }, 4).config.sites[0]?.proxy,
    undefined,
  );
  assert.throws(() => resolveConfig({ sites: [SITE] }, { HTTP_PROXY: "ftp://proxy" }, 4), {
    name: "ConfigError",
    message: /^HTTP_PROXY: must be an http:\/\/ proxy URL/,
  });
});
