import assert from "node:assert/strict";
import { join } from "node:path";
import { inClusterAccess } from "./access.ts";

const TOKEN = "eyJhbGciOiJSUzI1NiJ9.not-a-real-token";
const ENV = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };

async function withMount(
  files: Record<string, string>,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "s3sync-sa-" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(join(dir, name), text);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("inClusterAccess() reads the address, token and CA of a pod", async () => {
  await withMount(
    { token: `${TOKEN}\n`, "ca.crt": "-----BEGIN CERTIFICATE-----\n" },
    async (dir) => {
      const access = await inClusterAccess(ENV, dir);
      assert.deepEqual(access, {
        apiUrl: "https://10.96.0.1:443",
        token: TOKEN,
        caCert: "-----BEGIN CERTIFICATE-----\n",
      });
    },
  );
});

Deno.test("inClusterAccess() brackets an IPv6 host and allows a missing CA", async () => {
  await withMount({ token: TOKEN }, async (dir) => {
    const env = { KUBERNETES_SERVICE_HOST: "fd00:10:96::1", KUBERNETES_SERVICE_PORT: "6443" };
    const access = await inClusterAccess(env, dir);
    assert.equal(access.apiUrl, "https://[fd00:10:96::1]:6443");
    assert.equal(access.caCert, undefined);
  });
});

Deno.test("inClusterAccess() names the missing variables outside a cluster", async () => {
  await assert.rejects(inClusterAccess({}, "/nonexistent"), {
    message:
      "Not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT not set",
  });
  await assert.rejects(inClusterAccess({ KUBERNETES_SERVICE_HOST: "10.96.0.1" }, "/nonexistent"), {
    message: "Not running in a Kubernetes pod: KUBERNETES_SERVICE_PORT not set",
  });
});

Deno.test("inClusterAccess() names the token file when it is missing or empty", async () => {
  await withMount({ "ca.crt": "pem" }, async (dir) => {
    // Compared as text, not as a RegExp: a Windows path's "\" would be read as an escape.
    await assert.rejects(inClusterAccess(ENV, dir), (err: Error) => {
      const head = `Cannot read the service-account token "${join(dir, "token")}": `;
      assert.ok(err.message.startsWith(head), err.message);
      assert.match(err.message, /automountServiceAccountToken/);
      return true;
    });
    await Deno.writeTextFile(join(dir, "token"), "\n");
    await assert.rejects(inClusterAccess(ENV, dir), {
      message: `The service-account token "${join(dir, "token")}" is empty`,
    });
  });
});
