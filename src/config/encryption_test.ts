import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { resolveConfig } from "./resolve.ts";
import { CustomerKey } from "./encryption.ts";
import type { SiteConfig } from "./types.ts";
import { absolutePath } from "./test_support.ts";

const SITE = { local_path: absolutePath("/data"), bucket: "b", endpoint: "https://s3.example.com" };
const KEY = new Uint8Array(32).map((_, i) => 255 - i);
const KEY_BASE64 = Buffer.from(KEY).toString("base64");
const KEY_MD5 = createHash("md5").update(KEY).digest("base64");

const sites = (raw: Record<string, unknown>, env: Record<string, string> = {}): SiteConfig[] => [
  ...resolveConfig(raw, env, 2).config.sites,
];

/** Every line of the ConfigError that resolving `raw` throws. */
function mistakes(raw: Record<string, unknown>, env: Record<string, string> = {}): string {
  try {
    resolveConfig(raw, env, 2);
  } catch (err) {
    assert.equal((err as Error).name, "ConfigError");
    const message = (err as Error).message;
    // Whatever went wrong, the key itself is never in the message.
    assert.ok(!message.includes(KEY_BASE64), message);
    return message;
  }
  throw new assert.AssertionError({ message: "expected a ConfigError" });
}

async function keyFile(content: Uint8Array | string): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "s3sync-key-" });
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
  return path;
}

Deno.test("resolveConfig() reads sse and sse_kms_key_id globally, with a site's own mode winning", () => {
  const [kms, none, aes, dsse] = sites({
    sse: "aws:kms",
    sse_kms_key_id: "alias/backup",
    sites: [
      SITE,
      { ...SITE, bucket: "b2", sse: "none" },
      { ...SITE, bucket: "b3", sse: "aes256" },
      { ...SITE, bucket: "b4", sse: "aws:kms:dsse" },
    ],
  });
  assert.deepEqual(kms?.encryption, {
    kind: "sse",
    algorithm: "aws:kms",
    kmsKeyId: "alias/backup",
  });
  assert.equal(none?.encryption, undefined);
  assert.deepEqual(aes?.encryption, { kind: "sse", algorithm: "AES256" });
  // The global key id follows a KMS mode, its own or a site's.
  assert.deepEqual(dsse?.encryption, {
    kind: "sse",
    algorithm: "aws:kms:dsse",
    kmsKeyId: "alias/backup",
  });
  assert.equal(sites({ sites: [SITE] })[0]?.encryption, undefined);
});

Deno.test("resolveConfig() reads an SSE-C key from a file (raw or base64) or a variable", async () => {
  const raw = await keyFile(KEY);
  const text = await keyFile(`${KEY_BASE64}\n`);
  const [fromRaw, fromText, fromEnv] = sites({
    sites: [
      { ...SITE, sse_c_key_file: raw },
      { ...SITE, bucket: "b2", sse_c_key_file: text },
      { ...SITE, bucket: "b3", sse_c_key_env: "BACKUP_KEY" },
    ],
  }, { BACKUP_KEY: KEY_BASE64 });
  for (const site of [fromRaw, fromText, fromEnv]) {
    const encryption = site?.encryption;
    assert.equal(encryption?.kind, "customer");
    assert.ok(encryption.key instanceof CustomerKey);
    assert.equal(encryption.key.reveal(), KEY_BASE64);
    assert.equal(encryption.key.md5Base64, KEY_MD5);
    // What logs, /info or a careless JSON.stringify could show: never the key.
    assert.ok(!JSON.stringify(site).includes(KEY_BASE64));
    assert.ok(!Deno.inspect(site, { depth: 10 }).includes(KEY_BASE64));
  }
});

Deno.test("resolveConfig() refuses a bad SSE-C key with the field, never the key", async () => {
  const short = await keyFile(KEY.subarray(0, 17));
  assert.equal(
    mistakes({ sites: [{ ...SITE, sse_c_key_file: short }] }),
    `sites[0].sse_c_key_file: ${
      JSON.stringify(short)
    } must hold a 256-bit key: 32 bytes, or their base64 ` +
      "(44 characters); it holds 17 bytes that are neither",
  );
  assert.equal(
    mistakes({ sse_c_key_file: "key.bin", sites: [SITE] }),
    'sse_c_key_file: must be an absolute path, got "key.bin"',
  );
  assert.equal(
    mistakes({ sites: [{ ...SITE, sse_c_key_file: "/no/such/key" }] }),
    'sites[0].sse_c_key_file: cannot read "/no/such/key": no such file',
  );
  assert.equal(
    mistakes({ sites: [{ ...SITE, sse_c_key_env: "K" }] }),
    'sites[0].sse_c_key_env: names the environment variable "K", which is unset',
  );
  // A key of the wrong length, in base64 that is otherwise fine.
  const wrong = Buffer.from(KEY.subarray(0, 31)).toString("base64");
  assert.equal(
    mistakes({ sites: [{ ...SITE, sse_c_key_env: "K" }] }, { K: wrong }),
    'sites[0].sse_c_key_env: the environment variable "K" must hold the base64 of a 256-bit ' +
      "key (32 bytes, 44 characters)",
  );
});

Deno.test("resolveConfig() refuses encryption keys that contradict each other", async () => {
  const file = await keyFile(KEY);
  const env = { K: KEY_BASE64 };
  const message = mistakes({
    sse: "SSE-C",
    sites: [
      { ...SITE, sse_c_key_file: file, sse_c_key_env: "K" },
      { ...SITE, bucket: "b2", sse: "aws:kms", sse_c_key_env: "K" },
      { ...SITE, bucket: "b3", sse: "AES256", sse_kms_key_id: "k1" },
      { ...SITE, bucket: "b4", sse_kms_key_id: "k1" },
    ],
  }, env);
  assert.equal(
    message,
    [
      "5 errors in the config:",
      'sse: must be one of "AES256", "aws:kms", "aws:kms:dsse", "none", got "SSE-C" (SSE-C is ' +
      "set with sse_c_key_file or sse_c_key_env)",
      "sites[0].sse_c_key_env: give sse_c_key_file or sse_c_key_env, not both",
      "sites[1].sse: cannot be combined with an SSE-C key (sse_c_key_env): S3 takes one or the " +
      'other, got "aws:kms"',
      'sites[2].sse_kms_key_id: needs sse: aws:kms or aws:kms:dsse, got sse: "AES256"',
      'sites[3].sse_kms_key_id: needs sse: aws:kms or aws:kms:dsse, got sse: "none"',
    ].join("\n  "),
  );
});

Deno.test("resolveConfig() refuses SSE-C on an http:// endpoint unless sse_c_allow_http is true", () => {
  const env = { K: KEY_BASE64 };
  const plain = { ...SITE, endpoint: "http://127.0.0.1:7480", sse_c_key_env: "K" };
  assert.equal(
    mistakes({ sites: [plain] }, env),
    "sites[0].endpoint: must be https with an SSE-C key, which every request carries, got " +
      '"http://127.0.0.1:7480" (set sse_c_allow_http: true to send it in the clear anyway)',
  );
  const [allowed] = sites({ sse_c_allow_http: true, sites: [plain] }, env);
  assert.equal(allowed?.encryption?.kind, "customer");
  // A global key on a site that opts out needs no TLS.
  const [none] = sites({
    sse_c_key_env: "K",
    sites: [{ ...plain, sse_c_key_env: undefined, sse: "none" }],
  }, env);
  assert.equal(none?.encryption, undefined);
  // Not a boolean: not an opt-in either.
  assert.match(
    mistakes({ sites: [{ ...plain, sse_c_allow_http: "yes" }] }, env),
    /sites\[0\]\.endpoint: must be https.*\n.*sites\[0\]\.sse_c_allow_http: must be true or false, got "yes"/,
  );
});
