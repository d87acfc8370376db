import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  candidatePartSizes,
  isMultipart,
  MAX_PARTS,
  MiB,
  multipartEtag,
  parseEtag,
  PART_SIZE,
  partCount,
  partSizeFor,
} from "./etag.ts";
import { hashFile } from "./hash.ts";

Deno.test("partSizeFor() keeps PART_SIZE until a file needs more than MAX_PARTS parts", () => {
  assert.equal(partSizeFor(1), PART_SIZE);
  assert.equal(partSizeFor(PART_SIZE * MAX_PARTS), PART_SIZE);
  const huge = PART_SIZE * MAX_PARTS + 1;
  assert.ok(partCount(huge, partSizeFor(huge)) <= MAX_PARTS);
  assert.equal(partSizeFor(huge) % MiB, 0);
});

Deno.test("isMultipart() switches above PART_SIZE", () => {
  assert.equal(isMultipart(PART_SIZE), false);
  assert.equal(isMultipart(PART_SIZE + 1), true);
});

Deno.test("parseEtag() tells plain, multipart and unknown ETags apart", () => {
  assert.deepEqual(parseEtag("D41D8CD98F00B204E9800998ECF8427E"), {
    kind: "md5",
    md5: "d41d8cd98f00b204e9800998ecf8427e",
  });
  assert.deepEqual(parseEtag("d41d8cd98f00b204e9800998ecf8427e-12"), {
    kind: "multipart",
    parts: 12,
  });
  assert.deepEqual(parseEtag("kms-encrypted-etag"), { kind: "unknown" });
  assert.deepEqual(parseEtag(""), { kind: "unknown" });
});

Deno.test("candidatePartSizes() offers ours and common sizes that give the same part count", () => {
  const size = 21 * MiB;
  assert.deepEqual(candidatePartSizes(size, 5).sort((a, b) => a - b), [5 * MiB]);
  assert.ok(candidatePartSizes(size, 3).includes(8 * MiB));
  assert.ok(candidatePartSizes(size, 2).includes(16 * MiB));
  // Every candidate really gives the part count asked for.
  for (const parts of [1, 2, 3, 5, 7]) {
    for (const partSize of candidatePartSizes(size, parts)) {
      assert.equal(partCount(size, partSize), parts);
    }
  }
});

Deno.test("hashFile() computes the MD5 and the multipart ETag S3 would give", async () => {
  const data = new Uint8Array(5 * MiB + 3).map((_, i) => i % 251);
  const path = await Deno.makeTempFile();
  await Deno.writeFile(path, data);
  const digest = await hashFile(path, [2 * MiB, 8 * MiB]);
  const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest();
  assert.equal(digest.size, data.length);
  assert.equal(digest.md5, md5(data).toString("hex"));
  const twoMiB = [0, 2, 4].map((n) =>
    md5(data.subarray(n * MiB, Math.min(data.length, (n + 2) * MiB)))
  );
  assert.equal(digest.etags.get(2 * MiB), multipartEtag(twoMiB));
  assert.equal(digest.etags.get(8 * MiB), multipartEtag([md5(data)]));
  await Deno.remove(path);
});
