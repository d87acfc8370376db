/**
 * Pieces of `deno task smoke` (scripts/smoke.ts): a folder compared with a bucket prefix by keys,
 * sizes, ETags and, at the end, bytes; a daemon process with its output kept; waiting with a
 * deadline. Paths go through node:path, so that it runs on Windows as on POSIX systems.
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { isMultipart, multipartEtag, partSizeFor } from "../src/pipeline/etag.ts";

/** Deterministic bytes, different for each seed. */
export function content(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const md5 = (data: Uint8Array) => createHash("md5").update(data).digest();

/** The ETag S3 gives these bytes when uploaded as the daemon uploads them. */
function expectedEtag(data: Uint8Array): string {
  if (!isMultipart(data.length)) return md5(data).toString("hex");
  const partSize = partSizeFor(data.length);
  const parts: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += partSize) {
    parts.push(md5(data.subarray(at, at + partSize)));
  }
  return multipartEtag(parts);
}

/** Writes `rel` ("/"-separated) under `root`, with its folders. */
export async function write(root: string, rel: string, data: Uint8Array): Promise<void> {
  const path = join(root, ...rel.split("/"));
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await Deno.writeFile(path, data);
}

/** Every file under `root` by its key ("/"-separated path), less the paths `exclude` matches. */
async function tree(root: string, exclude?: RegExp, rel = ""): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for await (const entry of Deno.readDir(join(root, ...rel.split("/").filter(Boolean)))) {
    const key = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory) {
      for (const [k, path] of await tree(root, exclude, key)) files.set(k, path);
    } else if (!exclude?.test(key)) files.set(key, join(root, ...key.split("/")));
  }
  return files;
}

/** A bucket prefix that should hold what a folder holds. */
export class Mirror {
  constructor(
    readonly client: S3Client,
    readonly bucket: string,
    readonly prefix: string,
    readonly folder: string,
  ) {}

  async #list(): Promise<Map<string, { size: number; etag: string }>> {
    const objects = new Map<string, { size: number; etag: string }>();
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: `${this.prefix}/`,
          ContinuationToken: token,
        }),
      );
      for (const item of page.Contents ?? []) {
        const etag = (item.ETag ?? "").replaceAll('"', "");
        objects.set(item.Key!.slice(this.prefix.length + 1), { size: item.Size ?? 0, etag });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }

  /** How the bucket differs from the folder: keys, sizes, ETags; `bytes` compares contents too. */
  async differences(exclude?: RegExp, bytes = false): Promise<string[]> {
    const local = await tree(this.folder, exclude);
    const remote = await this.#list();
    const found: string[] = [];
    for (const key of remote.keys()) {
      if (!local.has(key)) found.push(`"${key}" is in the bucket only`);
    }
    for (const [key, path] of local) {
      const object = remote.get(key);
      if (!object) {
        found.push(`"${key}" is missing from the bucket`);
        continue;
      }
      const data = await Deno.readFile(path);
      const etag = expectedEtag(data);
      if (object.size !== data.length || object.etag !== etag) {
        found.push(
          `"${key}": the bucket has ${object.size} B, ETag ${object.etag}; ` +
            `the folder ${data.length} B, ETag ${etag}`,
        );
      } else if (bytes) {
        const got = await this.client.send(
          new GetObjectCommand({ Bucket: this.bucket, Key: `${this.prefix}/${key}` }),
        );
        const body = await got.Body!.transformToByteArray();
        if (!md5(body).equals(md5(data))) found.push(`"${key}": the object's bytes differ`);
      }
    }
    return found.sort();
  }
}

/** Polls `check` until it gives a value; the deadline only bounds a wait that is failing. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50;; delay = Math.min(delay * 2, 500)) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs / 1000} s: ${what}`);
    await new Promise((done) => setTimeout(done, delay));
  }
}

/** The daemon as a child process, its output kept for the report. */
export class Daemon {
  readonly #child: Deno.ChildProcess;
  readonly #exit: Promise<number>;
  /** The exit code, once it has exited. */
  code: number | undefined;
  stdout = "";
  log = "";

  constructor(program: string, args: string[]) {
    this.#child = new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const collect = async (stream: ReadableStream<Uint8Array>, stdout: boolean) => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        const text = decoder.decode(chunk, { stream: true });
        this.log += text;
        if (stdout) this.stdout += text;
      }
    };
    this.#exit = Promise.all([
      this.#child.status,
      collect(this.#child.stdout, true),
      collect(this.#child.stderr, false),
    ]).then(([status]) => this.code = status.code);
  }

  kill(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  exited(): Promise<number> {
    return this.#exit;
  }

  /** Throws if the daemon has exited while it should be running. */
  assertRunning(): void {
    if (this.code !== undefined) throw new Error(`The daemon exited with code ${this.code}`);
  }
}
