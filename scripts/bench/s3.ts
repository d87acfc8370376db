/**
 * The benchmark's own S3 access, with the SDK directly (never through the code under test):
 * fresh buckets, emptying them so RGW's memstore does not fill, counting and reading ETags to check
 * each tool's result, the "list" half of the list + walk reference, and the bare PutObject floor.
 * @module
 */

import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import type { S3Env } from "../s3env.ts";

export function makeClient(
  s3: Pick<S3Env, "endpoint" | "region" | "accessKey" | "secretKey">,
): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

let counter = 0;

/** A new bucket whose name says which tool and scenario it belongs to. */
export async function freshBucket(client: S3Client, label: string): Promise<string> {
  const name = `b-${label}-${Date.now().toString(36)}-${++counter}`.toLowerCase()
    .replace(/[^a-z0-9-]/g, "-").slice(0, 63).replace(/-+$/, "");
  await client.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

/** Every object of the bucket: key -> { size, etag without quotes }. */
export async function listAll(
  client: S3Client,
  bucket: string,
): Promise<Map<string, { size: number; etag: string }>> {
  const out = new Map<string, { size: number; etag: string }>();
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }),
    );
    for (const item of page.Contents ?? []) {
      out.set(item.Key!, { size: item.Size ?? 0, etag: (item.ETag ?? "").replaceAll('"', "") });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

export async function countObjects(client: S3Client, bucket: string): Promise<number> {
  let n = 0;
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }),
    );
    n += page.KeyCount ?? page.Contents?.length ?? 0;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return n;
}

export async function headEtag(
  client: S3Client,
  bucket: string,
  key: string,
): Promise<string | undefined> {
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return (head.ETag ?? "").replaceAll('"', "");
  } catch {
    return undefined;
  }
}

/** Runs `fn` over `items`, `concurrency` at a time. */
export async function pool<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/**
 * Deletes every object and then the bucket, outside every measurement: one DeleteObjects per listing
 * page (up to 1,000 keys), 4 pages at a time, page by page so that a bucket of a million objects is
 * never held whole (2.6 times as fast as single deletes on RGW). The SDK's DeleteObjects sends a
 * CRC32 checksum, not the Content-MD5 some servers require: on the first refusal it falls back to
 * single DeleteObject calls, 32 at a time.
 */
export async function dropBucket(client: S3Client, bucket: string): Promise<void> {
  for (let deleted = -1; deleted !== 0;) {
    deleted = 0;
    let token: string | undefined;
    do {
      const group: string[][] = [];
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }),
        );
        group.push((page.Contents ?? []).map((item) => item.Key!));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token && group.length < 4);
      await Promise.all(group.map((keys) => deleteKeys(client, bucket, keys)));
      for (const keys of group) deleted += keys.length;
    } while (token);
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

/** False once the server refused a DeleteObjects batch. */
let batchDeletes = true;

async function deleteKeys(client: S3Client, bucket: string, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  if (batchDeletes) {
    try {
      const out = await client.send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
        }),
      );
      keys = (out.Errors ?? []).flatMap((e) => e.Key === undefined ? [] : [e.Key]);
    } catch {
      batchDeletes = false;
    }
  }
  await pool(keys, 32, async (key) => {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  });
}

/** The floor: read each file and PutObject it, `concurrency` at a time, nothing else. */
export async function putLoop(
  client: S3Client,
  bucket: string,
  dir: string,
  files: readonly string[],
  concurrency: number,
): Promise<void> {
  await pool(files, concurrency, async (rel) => {
    const body = await Deno.readFile(`${dir}/${rel}`);
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: rel, Body: body, ContentLength: body.length }),
    );
  });
}

/**
 * Seconds of `putLoop` over `files` into a fresh bucket, which is dropped afterwards (outside the
 * timing): the server's own pace, without our work.
 */
export async function timedPutLoop(
  client: S3Client,
  linked: S3Client,
  dir: string,
  files: readonly string[],
  concurrency: number,
): Promise<number> {
  const bucket = await freshBucket(client, "floor");
  try {
    const started = performance.now();
    await putLoop(linked, bucket, dir, files, concurrency);
    return (performance.now() - started) / 1000;
  } finally {
    await dropBucket(client, bucket);
  }
}
