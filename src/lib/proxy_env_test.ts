import assert from "node:assert/strict";
import { ConfigError } from "./errors.ts";
import { bypassesProxy, maskProxyUrl, proxyFor, readProxyEnv } from "./proxy_env.ts";

Deno.test("readProxyEnv() prefers the upper-case names, as Deno's fetch does, and falls back to lower-case", () => {
  const both = readProxyEnv({
    HTTPS_PROXY: "http://upper:3128",
    https_proxy: "http://lower:3128",
    NO_PROXY: "upper.example",
    no_proxy: "lower.example",
  });
  assert.equal(both.httpsProxy, "http://upper:3128/");
  assert.equal(both.noProxy, "upper.example");
  const lower = readProxyEnv({ http_proxy: "http://lower:3128", no_proxy: " lower.example " });
  assert.deepEqual(lower, {
    httpsProxy: undefined,
    httpProxy: "http://lower:3128/",
    noProxy: "lower.example",
  });
  // Set but empty counts as unset, so the other spelling is read.
  assert.equal(
    readProxyEnv({ HTTPS_PROXY: "", https_proxy: "lower:8080" }).httpsProxy,
    "http://lower:8080/",
  );
});

Deno.test("readProxyEnv() takes a bare host:port as an http proxy and refuses other schemes", () => {
  assert.equal(
    readProxyEnv({ HTTP_PROXY: "proxy.corp:3128" }).httpProxy,
    "http://proxy.corp:3128/",
  );
  assert.throws(
    () => readProxyEnv({ HTTPS_PROXY: "socks5://proxy.corp:1080" }),
    (err: unknown) =>
      err instanceof ConfigError && err.field === "HTTPS_PROXY" && /socks5:/.test(err.message),
  );
  assert.throws(() => readProxyEnv({ https_proxy: "https://proxy.corp" }), /https_proxy: must be/);
});

Deno.test("readProxyEnv() names a bad variable without echoing its value, which may hold a password", () => {
  assert.throws(
    () => readProxyEnv({ HTTPS_PROXY: "http://user:s3cr3tpass@[bad" }),
    (err: unknown) =>
      err instanceof ConfigError && err.field === "HTTPS_PROXY" &&
      !err.message.includes("s3cr3tpass") && /not a URL/.test(err.message),
  );
  assert.throws(
    () => readProxyEnv({ HTTP_PROXY: "http://user:s3cr3t%ZZ@proxy:3128" }),
    (err: unknown) =>
      err instanceof ConfigError && !err.message.includes("s3cr3t") &&
      err.message === "HTTP_PROXY: has a user name or password that is not valid %-encoding",
  );
});

Deno.test("maskProxyUrl() hides the user name and password, and keeps the rest", () => {
  assert.equal(maskProxyUrl("http://user:p%40ss@proxy.corp:3128/"), "http://***@proxy.corp:3128");
  assert.equal(maskProxyUrl("http://user@proxy.corp:3128"), "http://***@proxy.corp:3128");
  assert.equal(maskProxyUrl("http://proxy.corp:3128"), "http://proxy.corp:3128");
});

Deno.test("bypassesProxy() matches names with their subdomains, with or without a leading dot", () => {
  for (const rule of ["example.com", ".example.com", "*.example.com", "EXAMPLE.com."]) {
    assert.ok(bypassesProxy("example.com", 443, rule), rule);
    assert.ok(bypassesProxy("s3.eu.Example.com", 443, rule), rule);
    assert.ok(!bypassesProxy("badexample.com", 443, rule), rule);
    assert.ok(!bypassesProxy("example.com.evil.net", 443, rule), rule);
  }
  assert.ok(bypassesProxy("minio.local.", 9000, "minio.local"));
  assert.ok(!bypassesProxy("anything", 443, ""));
});

Deno.test("bypassesProxy() matches IPv4 and IPv6 addresses, CIDR ranges, ports and *", () => {
  assert.ok(bypassesProxy("10.1.2.3", 80, "10.1.2.3"));
  assert.ok(!bypassesProxy("10.1.2.30", 80, "10.1.2.3"));
  assert.ok(bypassesProxy("10.200.0.1", 80, "192.168.0.0/16, 10.0.0.0/8"));
  assert.ok(!bypassesProxy("11.0.0.1", 80, "10.0.0.0/8"));
  assert.ok(bypassesProxy("[::1]", 80, "::1"));
  assert.ok(bypassesProxy("[fd00:0:0::5]", 80, "fd00::/8"));
  assert.ok(bypassesProxy("[2001:db8::1]", 443, "2001:db8:0:0:0:0:0:1"));
  assert.ok(!bypassesProxy("[2001:db8::2]", 443, "2001:db8::1"));
  // A host name is never an address, nor the other way round.
  assert.ok(!bypassesProxy("example.com", 80, "10.0.0.0/8"));
  assert.ok(!bypassesProxy("10.0.0.1", 80, "0.1"));

  assert.ok(bypassesProxy("minio.corp", 9000, "minio.corp:9000"));
  assert.ok(!bypassesProxy("minio.corp", 9001, "minio.corp:9000"));
  assert.ok(bypassesProxy("[::1]", 7480, "[::1]:7480"));
  assert.ok(!bypassesProxy("[::1]", 7481, "[::1]:7480"));
  assert.ok(bypassesProxy("127.0.0.1", 7480, "localhost,127.0.0.1:7480"));

  assert.ok(bypassesProxy("anything.at.all", 443, "*"));
  assert.ok(bypassesProxy("10.0.0.1", 443, "example.com *"));
});

Deno.test("proxyFor() picks HTTPS_PROXY for https URLs and HTTP_PROXY for http URLs", () => {
  const settings = readProxyEnv({
    HTTPS_PROXY: "http://secure:3128",
    HTTP_PROXY: "http://plain:3128",
    NO_PROXY: "direct.corp",
  });
  assert.equal(proxyFor(new URL("https://s3.amazonaws.com/b"), settings)?.host, "secure:3128");
  assert.equal(proxyFor(new URL("http://minio.corp:9000/b"), settings)?.host, "plain:3128");
  assert.equal(proxyFor(new URL("https://s3.direct.corp"), settings), undefined);
  assert.equal(proxyFor(new URL("https://s3.amazonaws.com"), undefined), undefined);
  const httpsOnly = readProxyEnv({ HTTPS_PROXY: "http://secure:3128" });
  assert.equal(proxyFor(new URL("http://minio.corp:9000"), httpsOnly), undefined);
  // The default port counts for host:port rules.
  const byPort = readProxyEnv({ HTTPS_PROXY: "http://secure:3128", NO_PROXY: "s3.corp:443" });
  assert.equal(proxyFor(new URL("https://s3.corp/b"), byPort), undefined);
  assert.ok(proxyFor(new URL("https://s3.corp:8443/b"), byPort));
});

Deno.test("proxyFor() never sends instance metadata, container credentials or pod identity through a proxy", () => {
  const settings = readProxyEnv({ HTTP_PROXY: "http://plain:3128", HTTPS_PROXY: "http://p:1" });
  for (
    const url of [
      "http://169.254.169.254/latest/api/token",
      "http://169.254.170.2/v2/credentials/x",
      "http://169.254.170.23/v1/credentials",
      "http://[fd00:ec2::254]/latest/meta-data/",
      "http://[fd00:ec2::23]/v1/credentials",
      "http://[fe80::1]/",
    ]
  ) {
    assert.equal(proxyFor(new URL(url), settings), undefined, url);
  }
  assert.ok(proxyFor(new URL("http://169.255.0.1/"), settings));
});
