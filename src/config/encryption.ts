/**
 * Server-side encryption keys: `sse` (`AES256`, `aws:kms`, `aws:kms:dsse`, or `none`) with
 * `sse_kms_key_id`, or SSE-C with a key read from `sse_c_key_file` or the variable `sse_c_key_env`
 * names (never from the YAML itself), and `sse_c_allow_http`. A site that sets `sse` or an SSE-C key
 * has its own encryption; otherwise it takes the global one. The key is read when the config is
 * loaded, and no message ever shows it: at most the path or the variable's name.
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { isAbsolute } from "node:path";
import { ConfigError, errorMessage } from "../lib/errors.ts";
import { describe, readBool, readString } from "./check.ts";
import type { Mistakes } from "./collect.ts";
import { type Encryption, SSE_ALGORITHMS, type SseAlgorithm } from "./types.ts";

/** Bytes in an AES-256 key, the only kind SSE-C takes. */
const KEY_BYTES = 32;

/**
 * An SSE-C key. The key itself sits in a private field, out of reach of `JSON.stringify`,
 * `Deno.inspect` and the config's logging; only its MD5 (what S3 itself echoes back) is public.
 */
export class CustomerKey {
  readonly #base64: string;
  /** The key's MD5 in base64: S3's `...-customer-key-MD5` header, and a safe fingerprint. */
  readonly md5Base64: string;

  constructor(key: Uint8Array) {
    if (key.byteLength !== KEY_BYTES) throw new RangeError(`An SSE-C key is ${KEY_BYTES} bytes`);
    this.#base64 = Buffer.from(key).toString("base64");
    this.md5Base64 = createHash("md5").update(key).digest("base64");
  }

  /** The key in base64, as the `...-customer-key` headers carry it. Only requests may use it. */
  reveal(): string {
    return this.#base64;
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** What one level (the top of the file, or one site) says about encryption. */
export interface EncryptionLevel {
  /** Set when the level chooses a mode: an algorithm, an SSE-C key, or none at all. */
  readonly mode?: SseAlgorithm | CustomerKey | "none";
  readonly kmsKeyId?: string;
  /** Where `kmsKeyId` was written, for the error when the mode turns out not to be KMS. */
  readonly kmsKeyIdField?: string;
  readonly allowHttp?: boolean;
  /** The environment the SSE-C key variables are read from. */
  readonly env: Env;
}

/** Reads the encryption keys of `raw` (fields under `prefix`: "" or "sites[0]."). */
export function readEncryptionLevel(
  raw: Record<string, unknown>,
  prefix: string,
  env: Env,
  mistakes: Mistakes,
): EncryptionLevel {
  const f = (key: string) => `${prefix}${key}`;
  const read = <T>(reader: () => T): T | undefined => mistakes.read(reader);
  const sse = read(() => readSse(raw.sse, f("sse")));
  const kmsKeyId = read(() => readString(raw.sse_kms_key_id, f("sse_kms_key_id")));
  const allowHttp = read(() => readBool(raw.sse_c_allow_http, f("sse_c_allow_http")));
  let key: CustomerKey | undefined;
  const file = read(() => readString(raw.sse_c_key_file, f("sse_c_key_file")));
  const variable = read(() => readString(raw.sse_c_key_env, f("sse_c_key_env")));
  if (file !== undefined && variable !== undefined) {
    mistakes.add(
      new ConfigError(f("sse_c_key_env"), "give sse_c_key_file or sse_c_key_env, not both"),
    );
  } else if (file !== undefined) {
    key = read(() => readKeyFile(file, f("sse_c_key_file")));
  } else if (variable !== undefined) {
    key = read(() => readKeyVariable(variable, env, f("sse_c_key_env")));
  }
  if (key && sse !== undefined && sse !== "none") {
    mistakes.add(
      new ConfigError(
        f("sse"),
        `cannot be combined with an SSE-C key (${file ? "sse_c_key_file" : "sse_c_key_env"}): ` +
          `S3 takes one or the other, got ${describe(sse)}`,
      ),
    );
  }
  const kmsKeyIdField = kmsKeyId === undefined ? undefined : f("sse_kms_key_id");
  const mode = key ?? sse;
  if (kmsKeyIdField && mode !== undefined && !isKms(mode)) {
    mistakes.add(kmsKeyIdMistake(kmsKeyIdField, mode));
  }
  return { mode, kmsKeyId, kmsKeyIdField, allowHttp, env };
}

/**
 * A site's encryption: its own level's mode, else the global one. `sse_kms_key_id` follows the
 * same rule; written where the mode is not KMS, it is a mistake. SSE-C sends the key in every
 * request, so a plain `http://` endpoint is refused unless `sse_c_allow_http: true` says so.
 */
export function siteEncryption(
  site: EncryptionLevel,
  global: EncryptionLevel,
  at: string,
  endpoint: string | undefined,
  mistakes: Mistakes,
): Encryption | undefined {
  const mode = site.mode ?? global.mode;
  const kms = isKms(mode);
  // A key id with a mode of its own level was judged by readEncryptionLevel; one whose mode is
  // the global one is judged here.
  if (site.kmsKeyIdField && site.mode === undefined && !kms) {
    mistakes.add(kmsKeyIdMistake(site.kmsKeyIdField, mode));
  }
  if (mode === undefined || mode === "none") return undefined;
  if (mode instanceof CustomerKey) {
    const allowHttp = site.allowHttp ?? global.allowHttp ?? false;
    if (endpoint?.startsWith("http:") && !allowHttp) {
      mistakes.add(
        new ConfigError(
          `${at}.endpoint`,
          `must be https with an SSE-C key, which every request carries, got ` +
            `${describe(endpoint)} (set sse_c_allow_http: true to send it in the clear anyway)`,
        ),
      );
    }
    return { kind: "customer", key: mode };
  }
  const kmsKeyId = kms ? site.kmsKeyId ?? global.kmsKeyId : undefined;
  return kmsKeyId ? { kind: "sse", algorithm: mode, kmsKeyId } : { kind: "sse", algorithm: mode };
}

const isKms = (mode: EncryptionLevel["mode"]): boolean =>
  mode === "aws:kms" || mode === "aws:kms:dsse";

function kmsKeyIdMistake(field: string, mode: EncryptionLevel["mode"]): ConfigError {
  const got = mode instanceof CustomerKey ? "an SSE-C key" : `sse: ${describe(mode ?? "none")}`;
  return new ConfigError(field, `needs sse: aws:kms or aws:kms:dsse, got ${got}`);
}

function readSse(value: unknown, field: string): SseAlgorithm | "none" | undefined {
  const text = readString(value, field)?.trim();
  if (text === undefined) return undefined;
  const found = [...SSE_ALGORITHMS, "none" as const].find((a) =>
    a.toLowerCase() === text.toLowerCase()
  );
  if (found) return found;
  const valid = [...SSE_ALGORITHMS, "none"].map((a) => `"${a}"`).join(", ");
  const hint = /^sse-c$/i.test(text) ? " (SSE-C is set with sse_c_key_file or sse_c_key_env)" : "";
  throw new ConfigError(field, `must be one of ${valid}, got ${describe(text)}${hint}`);
}

/** 32 bytes as they are, or their base64 on one line; nothing of the content ever goes in a message. */
function readKeyFile(written: string, field: string): CustomerKey {
  if (!isAbsolute(written)) {
    throw new ConfigError(field, `must be an absolute path, got ${describe(written)}`);
  }
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(written);
  } catch (err) {
    const reason = err instanceof Deno.errors.NotFound ? "no such file" : errorMessage(err);
    throw new ConfigError(field, `cannot read ${JSON.stringify(written)}: ${reason}`);
  }
  if (bytes.byteLength === KEY_BYTES) return new CustomerKey(bytes);
  const key = fromBase64(new TextDecoder().decode(bytes).trim());
  if (key) return new CustomerKey(key);
  throw new ConfigError(
    field,
    `${JSON.stringify(written)} must hold a 256-bit key: ${KEY_BYTES} bytes, or their base64 ` +
      `(44 characters); it holds ${bytes.byteLength} bytes that are neither`,
  );
}

function readKeyVariable(name: string, env: Env, field: string): CustomerKey {
  const value = env[name];
  if (value === undefined || value === "") {
    throw new ConfigError(
      field,
      `names the environment variable ${describe(name)}, which is unset`,
    );
  }
  const key = fromBase64(value.trim());
  if (key) return new CustomerKey(key);
  throw new ConfigError(
    field,
    `the environment variable ${describe(name)} must hold the base64 of a 256-bit key ` +
      `(${KEY_BYTES} bytes, 44 characters)`,
  );
}

/** The 32 bytes `text` encodes in strict base64, or undefined. */
function fromBase64(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text)) return undefined;
  const bytes = Buffer.from(text, "base64");
  return bytes.byteLength === KEY_BYTES ? new Uint8Array(bytes) : undefined;
}
