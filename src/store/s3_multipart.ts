/**
 * `S3Store`'s multipart upload requests: create, send a part, complete, abort. Listing uploads and
 * their parts is in s3_listing.ts; copying a part in s3_copy.ts.
 * @module
 */

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type ObjectCannedACL,
  type StorageClass,
} from "@aws-sdk/client-s3";
import { callS3, type S3Context, unquote } from "./s3_client.ts";
import { S3Error } from "./s3_error.ts";
import { partHeaders, readFields, writeFields } from "./sse.ts";
import type { CompletedPart, PutOptions } from "./types.ts";

export async function createMultipart(
  s3: S3Context,
  key: string,
  options: PutOptions,
  signal?: AbortSignal,
): Promise<string> {
  const out = await callS3(
    s3,
    "start a multipart upload of",
    key,
    signal,
    () =>
      s3.client.send(
        new CreateMultipartUploadCommand({
          Bucket: s3.bucket,
          Key: key,
          StorageClass: options.storageClass as StorageClass,
          ACL: options.acl as ObjectCannedACL | undefined,
          ContentType: options.contentType,
          Metadata: options.metadata ? { ...options.metadata } : undefined,
          ...writeFields(s3.site.encryption),
        }),
        { abortSignal: signal },
      ),
  );
  if (!out.UploadId) {
    throw new S3Error("start a multipart upload of", s3.site.name, s3.bucket, key, "no UploadId");
  }
  return out.UploadId;
}

export async function uploadPart(
  s3: S3Context,
  key: string,
  uploadId: string,
  partNumber: number,
  body: Uint8Array,
  md5Base64: string,
  signal?: AbortSignal,
): Promise<CompletedPart> {
  const query = { partNumber: String(partNumber), uploadId };
  const headers = partHeaders(s3.site.encryption);
  const etag = await callS3(
    s3,
    `upload part ${partNumber} of`,
    key,
    signal,
    () => s3.http.put(key, { body, md5Base64, query, headers }, signal),
  );
  return { partNumber, etag };
}

export async function completeMultipart(
  s3: S3Context,
  key: string,
  uploadId: string,
  parts: readonly CompletedPart[],
  signal?: AbortSignal,
): Promise<{ etag: string }> {
  const out = await callS3(
    s3,
    "complete the multipart upload of",
    key,
    signal,
    () =>
      s3.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: s3.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: {
            Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: `"${p.etag}"` })),
          },
          // S3 wants the key here only under some bucket policies; sending it always is accepted.
          ...readFields(s3.site.encryption),
        }),
        { abortSignal: signal },
      ),
  );
  return { etag: unquote(out.ETag) };
}

export async function abortMultipart(
  s3: S3Context,
  key: string,
  uploadId: string,
  signal?: AbortSignal,
): Promise<void> {
  try {
    await callS3(s3, "abort the multipart upload of", key, signal, () =>
      s3.client.send(
        new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: key, UploadId: uploadId }),
        { abortSignal: signal },
      ));
  } catch (err) {
    // Already gone is what we wanted.
    if (err instanceof S3Error && err.status === 404) return;
    throw err;
  }
}
