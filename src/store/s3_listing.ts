/**
 * `S3Store`'s listings: one page of objects (ListObjectsV2), the multipart uploads in progress,
 * and the parts one of them holds. Keys come back decoded, whatever the server encoded.
 * @module
 */

import {
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
} from "@aws-sdk/client-s3";
import { callS3, type S3Context, unquote } from "./s3_client.ts";
import { decodeListedKey } from "./s3_http.ts";
import type { ListedPage, ListPageOptions, PendingUpload, UploadedPart } from "./types.ts";

export async function listPage(
  s3: S3Context,
  prefix: string,
  options: ListPageOptions,
  signal?: AbortSignal,
): Promise<ListedPage> {
  return await callS3(s3, "list", prefix, signal, async () => {
    const out = await s3.client.send(
      new ListObjectsV2Command({
        Bucket: s3.bucket,
        Prefix: prefix || undefined,
        Delimiter: options.delimiter,
        StartAfter: options.continuationToken ? undefined : options.startAfter || undefined,
        ContinuationToken: options.continuationToken,
        MaxKeys: options.maxKeys,
        // Keys XML 1.0 cannot carry (U+0001, say) come back intact only URL-encoded.
        EncodingType: "url",
      }),
      { abortSignal: signal },
    );
    // AWS and RGW both say so when they encoded; a server that ignored the request did not.
    const decode = out.EncodingType === "url" ? decodeListedKey : (key: string) => key;
    return {
      objects: (out.Contents ?? []).map((item) => ({
        key: decode(item.Key ?? ""),
        size: item.Size ?? 0,
        etag: unquote(item.ETag),
        storageClass: item.StorageClass ?? "STANDARD",
      })),
      // RGW leaves the slash of a prefix unencoded and AWS encodes it: decoding reads both.
      prefixes: (out.CommonPrefixes ?? []).map((item) => decode(item.Prefix ?? "")),
      next: out.IsTruncated ? out.NextContinuationToken : undefined,
    };
  });
}

export async function listMultipartUploads(
  s3: S3Context,
  prefix: string,
  signal?: AbortSignal,
): Promise<PendingUpload[]> {
  const found: PendingUpload[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    const page = await callS3(
      s3,
      "list the multipart uploads under",
      prefix,
      signal,
      async () => {
        const out = await s3.client.send(
          new ListMultipartUploadsCommand({
            Bucket: s3.bucket,
            Prefix: prefix || undefined,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
            EncodingType: "url",
          }),
          { abortSignal: signal },
        );
        // Decoded whatever the response says: RGW encodes these keys but, unlike AWS, sends no
        // EncodingType element to say so.
        const uploads: PendingUpload[] = [];
        for (const { Key: key, UploadId: uploadId, Initiated: initiated } of out.Uploads ?? []) {
          if (key && uploadId) uploads.push({ key: decodeListedKey(key), uploadId, initiated });
        }
        return { uploads, truncated: out.IsTruncated === true };
      },
    );
    found.push(...page.uploads);
    // The next page starts after this page's last upload, which is what NextKeyMarker names;
    // but AWS URL-encodes NextKeyMarker and RGW does not, so the decoded key is the safe marker.
    const last = page.uploads.at(-1);
    keyMarker = page.truncated ? last?.key : undefined;
    uploadIdMarker = page.truncated ? last?.uploadId : undefined;
  } while (keyMarker);
  return found;
}

export async function listParts(
  s3: S3Context,
  key: string,
  uploadId: string,
  signal?: AbortSignal,
): Promise<UploadedPart[]> {
  const parts: UploadedPart[] = [];
  let marker: string | undefined;
  do {
    const page = await callS3(s3, "list the uploaded parts of", key, signal, async () => {
      const out = await s3.client.send(
        new ListPartsCommand({
          Bucket: s3.bucket,
          Key: key,
          UploadId: uploadId,
          PartNumberMarker: marker,
        }),
        { abortSignal: signal },
      );
      const listed = (out.Parts ?? []).map((part) => ({
        partNumber: part.PartNumber ?? 0,
        size: part.Size ?? 0,
        etag: unquote(part.ETag),
      }));
      return { listed, next: out.IsTruncated ? out.NextPartNumberMarker : undefined };
    });
    parts.push(...page.listed);
    marker = page.next;
  } while (marker);
  return parts;
}
