/**
 * A site's server-side encryption as each request carries it. Our own requests (PutObject,
 * UploadPart) take headers; the SDK's (CreateMultipartUpload, HeadObject, CopyObject, ...) take
 * command fields, from which the SDK writes the same headers. SSE-C goes on every request that
 * writes or reads an object, and a copy names the key of its source too; SSE-S3 and SSE-KMS only
 * on the requests that create an object.
 * @module
 */

import type { Encryption } from "../config/types.ts";
import type { ServerSideEncryption } from "@aws-sdk/client-s3";

const CUSTOMER = "x-amz-server-side-encryption-customer-";

/** Headers of a PutObject: the encryption the new object gets. */
export function writeHeaders(encryption: Encryption | undefined): Record<string, string> {
  if (!encryption) return {};
  if (encryption.kind === "customer") return customerHeaders(encryption, CUSTOMER);
  const headers: Record<string, string> = {
    "x-amz-server-side-encryption": encryption.algorithm,
  };
  if (encryption.kmsKeyId) {
    headers["x-amz-server-side-encryption-aws-kms-key-id"] = encryption.kmsKeyId;
  }
  return headers;
}

/** Headers of an UploadPart: SSE-C names the key again, which must be the upload's; KMS nothing. */
export function partHeaders(encryption: Encryption | undefined): Record<string, string> {
  return encryption?.kind === "customer" ? customerHeaders(encryption, CUSTOMER) : {};
}

function customerHeaders(
  encryption: Extract<Encryption, { kind: "customer" }>,
  prefix: string,
): Record<string, string> {
  return {
    [`${prefix}algorithm`]: "AES256",
    [`${prefix}key`]: encryption.key.reveal(),
    [`${prefix}key-md5`]: encryption.key.md5Base64,
  };
}

/** SDK fields of an SSE-C key; the SDK's own middleware checks the key and its MD5 once more. */
export interface CustomerKeyFields {
  SSECustomerAlgorithm?: string;
  SSECustomerKey?: string;
  SSECustomerKeyMD5?: string;
}

/** SDK fields of a request that creates an object (CreateMultipartUpload, CopyObject). */
export interface WriteFields extends CustomerKeyFields {
  ServerSideEncryption?: ServerSideEncryption;
  SSEKMSKeyId?: string;
}

export function writeFields(encryption: Encryption | undefined): WriteFields {
  if (!encryption) return {};
  if (encryption.kind === "customer") return readFields(encryption);
  return {
    ServerSideEncryption: encryption.algorithm as ServerSideEncryption,
    SSEKMSKeyId: encryption.kmsKeyId,
  };
}

/**
 * SDK fields of a request that reads or continues an object (HeadObject, UploadPartCopy's
 * target, CompleteMultipartUpload): only SSE-C needs the key there.
 */
export function readFields(encryption: Encryption | undefined): CustomerKeyFields {
  if (encryption?.kind !== "customer") return {};
  return {
    SSECustomerAlgorithm: "AES256",
    SSECustomerKey: encryption.key.reveal(),
    SSECustomerKeyMD5: encryption.key.md5Base64,
  };
}

/** SDK fields naming the key of a copy's source: with SSE-C it was written with ours. */
export function copySourceFields(encryption: Encryption | undefined): {
  CopySourceSSECustomerAlgorithm?: string;
  CopySourceSSECustomerKey?: string;
  CopySourceSSECustomerKeyMD5?: string;
} {
  if (encryption?.kind !== "customer") return {};
  return {
    CopySourceSSECustomerAlgorithm: "AES256",
    CopySourceSSECustomerKey: encryption.key.reveal(),
    CopySourceSSECustomerKeyMD5: encryption.key.md5Base64,
  };
}

/**
 * The object exists, but the SSE-C key we hold does not open it: it was written under another key
 * (the key changed) or without SSE-C where the server insists. S3 answers 403 for a wrong key and
 * 400 for a missing one, RGW 400 for both. Such an object cannot be proven equal to a file, so the
 * file is uploaded again under our key; it never counts as missing.
 */
export class CustomerKeyRefused extends Error {
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined, options?: ErrorOptions) {
    super(message, options);
    this.name = "CustomerKeyRefused";
    this.status = status;
  }
}

/** True for the statuses a refused SSE-C key gets. */
export const keyRefusedStatus = (status: number | undefined): boolean =>
  status === 400 || status === 403;

/** What HEAD says of an object's encryption: the algorithm, or "SSE-C" for a customer key. */
export function encryptionOf(
  out: { ServerSideEncryption?: string; SSECustomerAlgorithm?: string },
): string | undefined {
  return out.SSECustomerAlgorithm ? "SSE-C" : out.ServerSideEncryption;
}

/** What a log line may say of a site's encryption: for SSE-C, the key's MD5, never the key. */
export function encryptionFields(encryption: Encryption): Record<string, string> {
  if (encryption.kind === "customer") return { sse: "SSE-C", key_md5: encryption.key.md5Base64 };
  const fields: Record<string, string> = { sse: encryption.algorithm };
  if (encryption.kmsKeyId) fields.kms_key_id = encryption.kmsKeyId;
  return fields;
}

/**
 * A site's encryption as one string a multipart upload's record keeps: what `encryptionFields`
 * logs, so for SSE-C the key's MD5 and never the key.
 */
export function encryptionFingerprint(encryption: Encryption | undefined): string | undefined {
  if (!encryption) return undefined;
  return Object.entries(encryptionFields(encryption)).map(([name, value]) => `${name}=${value}`)
    .join(" ");
}
