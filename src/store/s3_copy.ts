/**
 * `S3Store`'s copies inside the bucket: a whole object (CopyObject), or one part of a multipart
 * copy (UploadPartCopy). Both happen only while the source has the ETag the caller saw.
 * @module
 */

import {
  CopyObjectCommand,
  type ObjectCannedACL,
  type StorageClass,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { callS3, type S3Context, unquote } from "./s3_client.ts";
import { S3Error } from "./s3_error.ts";
import {
  copySourceFields,
  CustomerKeyRefused,
  keyRefusedStatus,
  readFields,
  writeFields,
} from "./sse.ts";
import type { CompletedPart, CopyOptions } from "./types.ts";

/** Keeps the slashes of a key and escapes everything else, as CopySource requires. */
const copySource = (bucket: string, key: string): string =>
  `${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;

/**
 * A copy that only happens while the source has the ETag `ifMatch`. Ceph RGW 16 ignores the
 * standard `x-amz-copy-source-if-match` and reads its own `x-amz-copy-if-match`, so both go out;
 * the middleware adds the second before the request is signed.
 */
function pinned<C extends CopyObjectCommand | UploadPartCopyCommand>(
  command: C,
  ifMatch: string,
): C {
  const rgwHeader = <A extends { request: unknown }, R>(next: (args: A) => R) => (args: A): R => {
    const request = args.request as { headers?: Record<string, string> };
    if (request.headers) request.headers["x-amz-copy-if-match"] = `"${ifMatch}"`;
    return next(args);
  };
  const options = { step: "build", name: "rgwCopyIfMatch" } as const;
  if (command instanceof CopyObjectCommand) command.middlewareStack.add(rgwHeader, options);
  else command.middlewareStack.add(rgwHeader, options);
  return command;
}

/**
 * A copy whose source our SSE-C key does not open (written under another key, or without one)
 * fails as `CustomerKeyRefused`: the caller uploads the file instead of retrying for ever.
 */
async function keyed<T>(s3: S3Context, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof S3Error) || s3.site.encryption?.kind !== "customer") throw err;
    if (!keyRefusedStatus(err.status)) throw err;
    throw new CustomerKeyRefused(err.message, err.status, { cause: err });
  }
}

export async function copy(
  s3: S3Context,
  source: string,
  key: string,
  { storageClass, acl }: CopyOptions,
  ifMatch: string,
  signal?: AbortSignal,
): Promise<{ etag: string }> {
  const what = source === key
    ? `change the storage class to ${storageClass} of`
    : `copy "${source}" to`;
  const out = await keyed(s3, () =>
    callS3(s3, what, key, signal, () =>
      s3.client.send(
        pinned(
          new CopyObjectCommand({
            Bucket: s3.bucket,
            Key: key,
            CopySource: copySource(s3.bucket, source),
            CopySourceIfMatch: `"${ifMatch}"`,
            StorageClass: storageClass as StorageClass,
            // Not copied from the source: a copy gets the site's ACL, or the bucket's default;
            // and the site's encryption, which the source's SSE-C key (ours) opens.
            ACL: acl as ObjectCannedACL | undefined,
            MetadataDirective: "COPY",
            ...writeFields(s3.site.encryption),
            ...copySourceFields(s3.site.encryption),
          }),
          ifMatch,
        ),
        { abortSignal: signal },
      )));
  return { etag: unquote(out.CopyObjectResult?.ETag) };
}

export async function uploadPartCopy(
  s3: S3Context,
  source: string,
  key: string,
  uploadId: string,
  partNumber: number,
  { start, end }: { readonly start: number; readonly end: number },
  ifMatch: string,
  signal?: AbortSignal,
): Promise<CompletedPart> {
  const out = await keyed(
    s3,
    () =>
      callS3(s3, `copy part ${partNumber} of`, key, signal, () =>
        s3.client.send(
          pinned(
            new UploadPartCopyCommand({
              Bucket: s3.bucket,
              Key: key,
              UploadId: uploadId,
              PartNumber: partNumber,
              CopySource: copySource(s3.bucket, source),
              CopySourceIfMatch: `"${ifMatch}"`,
              CopySourceRange: `bytes=${start}-${end}`,
              ...readFields(s3.site.encryption),
              ...copySourceFields(s3.site.encryption),
            }),
            ifMatch,
          ),
          { abortSignal: signal },
        )),
  );
  return { partNumber, etag: unquote(out.CopyPartResult?.ETag) };
}
