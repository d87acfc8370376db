/**
 * `S3Store`'s requests on whole objects: HEAD, a single PUT, and deletes.
 * @module
 */

import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { callS3, type S3Context, unquote } from "./s3_client.ts";
import { S3Error } from "./s3_error.ts";
import {
  CustomerKeyRefused,
  encryptionOf,
  keyRefusedStatus,
  readFields,
  writeHeaders,
} from "./sse.ts";
import type { ObjectInfo, PutOptions } from "./types.ts";

/**
 * With SSE-C, HEAD needs the key of an object written with one, and S3 refuses it for an object
 * written without: a refused HEAD is asked again without the key, and only if that is refused
 * too is the key the wrong one (`CustomerKeyRefused`).
 */
export async function head(
  s3: S3Context,
  key: string,
  signal?: AbortSignal,
): Promise<ObjectInfo | undefined> {
  const { encryption } = s3.site;
  try {
    return await headWith(s3, key, readFields(encryption), signal);
  } catch (err) {
    const refused = err instanceof S3Error && keyRefusedStatus(err.status);
    if (encryption?.kind !== "customer" || !refused) throw err;
  }
  try {
    return await headWith(s3, key, {}, signal);
  } catch (err) {
    if (!(err instanceof S3Error) || !keyRefusedStatus(err.status)) throw err;
    throw new CustomerKeyRefused(
      `Cannot read the metadata of "${key}" in bucket "${s3.bucket}" (site ` +
        `"${s3.site.name}"): the object's SSE-C key is not the configured one (HTTP ` +
        `${err.status})`,
      err.status,
      { cause: err },
    );
  }
}

async function headWith(
  s3: S3Context,
  key: string,
  fields: ReturnType<typeof readFields>,
  signal?: AbortSignal,
): Promise<ObjectInfo | undefined> {
  try {
    const out = await callS3(
      s3,
      "read the metadata of",
      key,
      signal,
      () =>
        s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key, ...fields }), {
          abortSignal: signal,
        }),
    );
    return {
      key,
      size: out.ContentLength ?? 0,
      etag: unquote(out.ETag),
      storageClass: out.StorageClass ?? "STANDARD",
      contentType: out.ContentType,
      metadata: out.Metadata ?? {},
      encryption: encryptionOf(out),
    };
  } catch (err) {
    if (err instanceof S3Error && err.status === 404) return undefined;
    throw err;
  }
}

export async function put(
  s3: S3Context,
  key: string,
  body: Uint8Array,
  md5Base64: string,
  options: PutOptions,
  signal?: AbortSignal,
): Promise<{ etag: string }> {
  const headers: Record<string, string> = {
    "content-type": options.contentType,
    "x-amz-storage-class": options.storageClass,
    ...writeHeaders(s3.site.encryption),
  };
  if (options.acl) headers["x-amz-acl"] = options.acl;
  for (const [name, value] of Object.entries(options.metadata ?? {})) {
    headers[`x-amz-meta-${name.toLowerCase()}`] = value;
  }
  const etag = await callS3(
    s3,
    "upload",
    key,
    signal,
    () => s3.http.put(key, { body, md5Base64, headers }, signal),
  );
  return { etag };
}

export async function deleteMany(
  s3: S3Context,
  keys: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, string>> {
  const what = keys.length === 1 ? keys[0] ?? "" : `${keys[0]}" and ${keys.length - 1} more "keys`;
  return await callS3(s3, "delete", what, signal, () => s3.http.deleteMany(keys, signal));
}

export async function deleteOne(s3: S3Context, key: string, signal?: AbortSignal): Promise<void> {
  try {
    await callS3(s3, "delete", key, signal, () => s3.http.deleteOne(key, signal));
  } catch (err) {
    // Already gone is what we wanted.
    if (err instanceof S3Error && err.status === 404) return;
    throw err;
  }
}
