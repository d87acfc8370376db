import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { contentMetadata, formatMtime } from "./metadata.ts";

Deno.test("formatMtime() writes rclone's decimal seconds: no trailing zeros, no float noise", () => {
  assert.equal(formatMtime(1_354_040_105_123), "1354040105.123");
  assert.equal(formatMtime(1_354_040_105_120), "1354040105.12");
  assert.equal(formatMtime(1_354_040_105_000), "1354040105");
  assert.equal(formatMtime(1_700_000_000_001), "1700000000.001");
  // A sub-millisecond part, where a platform gives one.
  assert.equal(formatMtime(1_354_040_105_123.5), "1354040105.1235");
  assert.equal(formatMtime(0), "0");
  assert.equal(formatMtime(-1_500), "-1.5");
});

Deno.test("contentMetadata() carries s3sync-md5, rclone's base64 md5chksum and, when asked, mtime", () => {
  const md5 = createHash("md5").update("hello").digest();
  const hex = md5.toString("hex");
  assert.deepEqual(contentMetadata(hex, 1_600_000_000_250), {
    "s3sync-md5": "5d41402abc4b2a76b9719d911017c592",
    "md5chksum": "XUFAKrxLKna5cZ2REBfFkg==",
    "mtime": "1600000000.25",
  });
  assert.deepEqual(Object.keys(contentMetadata(hex, undefined)).sort(), [
    "md5chksum",
    "s3sync-md5",
  ]);
});
