import assert from "node:assert/strict";
import { S3Error } from "./s3_error.ts";
import { S3HttpError } from "./s3_http.ts";
import { isRetryable } from "./retry.ts";

const refused = () =>
  new S3HttpError("AccessControlListNotSupported", "The bucket does not allow ACLs", 400);

Deno.test("S3Error says a refused ACL means ACLs are disabled, and what to write instead", () => {
  const err = new S3Error("upload", "photos", "b", "a.jpg", refused());
  assert.equal(
    err.message,
    'Cannot upload "a.jpg" in bucket "b" (site "photos"): The bucket does not allow ACLs ' +
      "(AccessControlListNotSupported, HTTP 400): the bucket has ACLs disabled (Object " +
      "Ownership: bucket owner enforced): remove acl from the config, or use acl: " +
      "bucket-owner-full-control",
  );
  assert.equal(err.code, "AccessControlListNotSupported");
  assert.equal(err.status, 400);
});

Deno.test("S3Error adds the ACL hint for the SDK's errors too, and no hint for other codes", () => {
  const sdk = Object.assign(new Error("The bucket does not allow ACLs"), {
    name: "AccessControlListNotSupported",
    $metadata: { httpStatusCode: 400 },
  });
  const copy = new S3Error('copy "a" to', "s", "b", "c", sdk);
  assert.match(
    copy.message,
    /: remove acl from the config, or use acl: bucket-owner-full-control$/,
  );
  const denied = new S3HttpError("AccessDenied", "Access Denied", 403);
  assert.equal(
    new S3Error("upload", "s", "b", "k", denied).message,
    'Cannot upload "k" in bucket "b" (site "s"): Access Denied (AccessDenied, HTTP 403)',
  );
});

Deno.test("isRetryable() does not retry a refused ACL", () => {
  assert.equal(isRetryable(refused()), false);
});
