/**
 * The transport's agents on real sockets, below the S3 layer: what goes on the wire through the
 * test proxy, and the messages a failure gives. network_test.ts runs whole syncs.
 */

import assert from "node:assert/strict";
import http from "node:http";
import https from "node:https";
import { readProxyEnv } from "../src/lib/proxy_env.ts";
import { pemCertificates } from "../src/lib/pem.ts";
import { createTransport, type Transport } from "../src/store/transport.ts";
import { HttpProxy } from "./http_proxy.ts";
import { makeTestCa, TlsFront } from "./tls_front.ts";
import { freePort, tempDir, testS3 } from "./helpers.ts";

interface Answer {
  readonly status?: number;
  readonly body?: string;
  readonly error?: Error & { code?: string };
}

function send(
  url: string,
  agent: http.Agent,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const request = url.startsWith("https:") ? https.request : http.request;
  return new Promise((resolve) => {
    const req = request(url, { agent, method: options.method, headers: options.headers }, (res) => {
      let body = "";
      res.on("data", (chunk) => body += chunk);
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("error", (error) => resolve({ error }));
    req.end(options.body);
  });
}

async function using<T>(transport: Transport, run: (t: Transport) => Promise<T>): Promise<T> {
  try {
    return await run(transport);
  } finally {
    transport.destroy();
  }
}

const rgw = () => {
  const url = new URL(testS3().endpoint);
  return `${url.hostname}:${url.port || 80}`;
};

Deno.test("the http agent rewrites a request whose head was written early (Expect: 100-continue) for the proxy", async () => {
  const proxy = new HttpProxy({ auth: { user: "u", password: "pw" } });
  const settings = readProxyEnv({ HTTP_PROXY: proxy.url.replace("//", "//u:pw@") });
  try {
    await using(
      createTransport(testS3().endpoint, { maxSockets: 2, proxy: settings }),
      async (t) => {
        const answer = await send(`http://${rgw()}/no-such-bucket-here/key`, t.httpAgent, {
          method: "PUT",
          headers: { expect: "100-continue", "content-length": "5" },
          body: "hello",
        });
        // Unsigned, so the server refuses it: what matters is that it got there, with its body.
        assert.equal(answer.error, undefined);
        assert.match(answer.body ?? "", /<Code>(AccessDenied|NoSuchBucket)<\/Code>/);
        assert.deepEqual(proxy.stats, { connects: 0, requests: 1, refused: 0, targets: [rgw()] });
      },
    );
  } finally {
    await proxy.close();
  }
});

Deno.test("the agents name an unreachable proxy, with its credentials masked", async () => {
  const dead = `127.0.0.1:${freePort()}`;
  const settings = readProxyEnv({
    HTTP_PROXY: `http://u:Secr3tPass@${dead}`,
    HTTPS_PROXY: `http://u:Secr3tPass@${dead}`,
  });
  await using(createTransport("https://s3.corp", { maxSockets: 1, proxy: settings }), async (t) => {
    for (
      const [url, agent] of [["http://s3.corp/", t.httpAgent], [
        "https://s3.corp/",
        t.httpsAgent,
      ]] as const
    ) {
      const { error } = await send(url, agent);
      assert.equal(
        error?.message,
        `Cannot reach the proxy http://***@${dead}: connect ECONNREFUSED ${dead}`,
      );
      assert.equal(error?.code, "ECONNREFUSED");
    }
  });
});

Deno.test("a proxy that cannot reach the server answers CONNECT with 502, which is retried as a network error", async () => {
  const proxy = new HttpProxy();
  const nowhere = `127.0.0.1:${freePort()}`;
  try {
    const settings = readProxyEnv({ HTTPS_PROXY: proxy.url });
    await using(
      createTransport(`https://${nowhere}`, { maxSockets: 1, proxy: settings }),
      async (t) => {
        const { error } = await send(`https://${nowhere}/`, t.httpsAgent);
        assert.equal(
          error?.message,
          `The proxy ${proxy.url} refused to open a tunnel to ${nowhere}: HTTP 502 Bad Gateway`,
        );
        assert.equal(error?.name, "NetworkingError");
      },
    );
  } finally {
    await proxy.close();
  }
});

Deno.test("a certificate for other names fails the handshake with a message that says so", async () => {
  const ca = await makeTestCa(await tempDir());
  const front = await TlsFront.start(new URL(testS3().endpoint), ca);
  // 127.0.0.2 is this machine too, but the certificate names only 127.0.0.1 and localhost.
  const proxy = new HttpProxy({
    routes: { [`127.0.0.2:${front.port}`]: `127.0.0.1:${front.port}` },
  });
  try {
    const caBundle = {
      path: ca.caPath,
      certificates: pemCertificates(await Deno.readTextFile(ca.caPath)),
    };
    const settings = readProxyEnv({ HTTPS_PROXY: proxy.url });
    const endpoint = `https://127.0.0.2:${front.port}`;
    await using(
      createTransport(endpoint, { maxSockets: 1, proxy: settings, caBundle }),
      async (t) => {
        const { error } = await send(`${endpoint}/`, t.httpsAgent);
        assert.match(
          error?.message ?? "",
          new RegExp(
            `^TLS handshake with ${endpoint.replaceAll(".", "\\.")} \\(through the proxy ` +
              `${
                proxy.url.replaceAll(".", "\\.")
              }\\) failed: .*; the certificate is for other names`,
          ),
        );
        // The same CA, the right name: through.
        const good = await send(`https://localhost:${front.port}/`, t.httpsAgent);
        assert.equal(good.status, 200, good.error?.message);
      },
    );
  } finally {
    await proxy.close();
    await front.close();
  }
});
