import assert from "node:assert/strict";
import type https from "node:https";
import tls from "node:tls";
import { formatLine } from "../lib/log.ts";
import { readProxyEnv } from "../lib/proxy_env.ts";
import { TEST_CA_PEM } from "../../tests/test_cert.ts";
import { createTransport } from "./transport.ts";

const trusted = (agent: https.Agent): readonly string[] | undefined =>
  (agent.options as { ca?: string[] }).ca;

Deno.test("createTransport() names the endpoint's proxy with its credentials masked, and masks the password in logs", () => {
  const proxy = readProxyEnv({ HTTPS_PROXY: "http://svc:Wh0le-Secret@proxy.corp:3128" });
  const transport = createTransport("https://s3.eu-west-1.amazonaws.com", {
    maxSockets: 2,
    proxy,
    systemCaFiles: [],
  });
  try {
    assert.equal(transport.proxy, "http://***@proxy.corp:3128");
    assert.ok(!formatLine("error", "oops", { why: "auth Wh0le-Secret" }).includes("Wh0le-Secret"));
  } finally {
    transport.destroy();
  }
});

Deno.test("createTransport() says direct for an endpoint NO_PROXY names, or with no proxy set", () => {
  const proxy = readProxyEnv({ HTTP_PROXY: "http://proxy.corp:3128", NO_PROXY: ".corp" });
  for (const options of [{ proxy }, {}]) {
    const transport = createTransport("http://minio.corp:9000", {
      maxSockets: 2,
      systemCaFiles: [],
      ...options,
    });
    assert.equal(transport.proxy, undefined);
    transport.destroy();
  }
});

Deno.test("createTransport().agentFor() gives the https agent for https URLs and the http one otherwise", () => {
  const transport = createTransport("https://s3.corp", { maxSockets: 3, systemCaFiles: [] });
  try {
    assert.equal(transport.agentFor(new URL("https://s3.corp/b/k")), transport.httpsAgent);
    assert.equal(transport.agentFor(new URL("http://s3.corp/b/k")), transport.httpAgent);
    assert.equal(transport.httpsAgent.maxSockets, 3);
    assert.equal(transport.httpAgent.maxSockets, 3);
  } finally {
    transport.destroy();
  }
});

Deno.test("createTransport() leaves the default roots alone when nothing adds to them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A system bundle holding only certificates Deno bundles already.
    const system = `${dir}/system.pem`;
    await Deno.writeTextFile(system, tls.rootCertificates.slice(0, 3).join("\n"));
    for (const systemCaFiles of [[], [`${dir}/missing.pem`, system]]) {
      const transport = createTransport("https://s3.corp", { maxSockets: 1, systemCaFiles });
      assert.equal(trusted(transport.httpsAgent), undefined);
      transport.destroy();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createTransport() trusts the bundled roots, the system bundle and ca_bundle together, once each", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const system = `${dir}/system.pem`;
    // The first existing file is the system bundle; it repeats a bundled root and adds the CA.
    await Deno.writeTextFile(system, `${tls.rootCertificates[0]}\n${TEST_CA_PEM}`);
    const fromSystem = createTransport("https://s3.corp", {
      maxSockets: 1,
      systemCaFiles: [`${dir}/missing.pem`, system],
    });
    const ca = trusted(fromSystem.httpsAgent) ?? [];
    assert.equal(ca.length, tls.rootCertificates.length + 1);
    assert.equal(ca.at(-1)?.trim(), TEST_CA_PEM.trim());
    fromSystem.destroy();

    // The same CA from ca_bundle as well: still once.
    const caBundle = { path: "/etc/corp-ca.pem", certificates: [TEST_CA_PEM] };
    const both = createTransport("https://s3.corp", {
      maxSockets: 1,
      systemCaFiles: [system],
      caBundle,
    });
    assert.equal(trusted(both.httpsAgent)?.length, tls.rootCertificates.length + 1);
    both.destroy();

    const bundleOnly = createTransport("https://s3.corp", {
      maxSockets: 1,
      systemCaFiles: [],
      caBundle,
    });
    assert.deepEqual(trusted(bundleOnly.httpsAgent), [...tls.rootCertificates, TEST_CA_PEM]);
    bundleOnly.destroy();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
