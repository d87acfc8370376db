/**
 * Large uploads survive a stop, a reload and a restart: a multipart upload cut short goes on from
 * the parts the server holds, only for an unchanged file whose bytes are those parts, and an upload
 * that cannot go on is aborted. The service runs in this process with a store that passes every
 * part through to the real server and counts it by part number (parts.ts), except for one case
 * that kills a spawned daemon with SIGKILL.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
} from "@aws-sdk/client-s3";
import { loadConfig } from "../src/config/load.ts";
import { Daemon as Service } from "../src/daemon.ts";
import { setLogLevel } from "../src/lib/log.ts";
import { statFile } from "../src/pipeline/check.ts";
import { PART_SIZE } from "../src/pipeline/etag.ts";
import { MD5_METADATA } from "../src/pipeline/metadata.ts";
import { uploadFile } from "../src/pipeline/transfer.ts";
import { StateStore } from "../src/state/store.ts";
import { createS3Store } from "../src/store/s3.ts";
import { FaultProxy } from "./fault_proxy.ts";
import {
  bytes,
  Daemon,
  listBucket,
  newBucket,
  pendingUploads,
  siteConfig,
  tempDir,
  testS3,
  uploadInParts,
  waitFor,
  writeConfig,
  writeFile,
} from "./helpers.ts";
import { md5 } from "./mirror.ts";
import { expectedEtag, PartGate } from "./parts.ts";

setLogLevel("error");

/** Six parts: the first two go through, the others wait until the upload is cancelled. */
const SIZE = 5 * PART_SIZE + 12_345;
const PARTS = 6;
const afterTwo = (n: number) => n > 2;

interface Setup {
  readonly root: string;
  readonly bucket: string;
  readonly config: string;
  readonly stateDir: string;
}

async function setup(label: string, site: Record<string, unknown> = {}): Promise<Setup> {
  const root = await tempDir();
  const bucket = await newBucket(label);
  const dir = await tempDir();
  // No grace period: a stop or reload cancels the parts in flight at once. The level holds for
  // this whole process, which a reload would otherwise set to info.
  const config = await writeConfig(dir, [{ local_path: root, bucket, ...site }], {
    shutdown_timeout: "0s",
    loglevel: "error",
  });
  return { root, bucket, config, stateDir: `${dir}/state` };
}

/** The service in this process, each generation's store taken from `gates` in turn. */
async function startService(config: string, gates: PartGate[]): Promise<Service> {
  const load = () => loadConfig(config, {}, 2);
  let made = 0;
  const service = new Service(await load(), load, {
    createStore: (...args: Parameters<typeof createS3Store>) =>
      gates[Math.min(made++, gates.length - 1)]!.wrap(createS3Store(...args)),
  });
  service.start();
  return service;
}

/** Parts 1 and 2 are on the server; no other part is ever sent through `gate`. */
async function cutAfterTwo(gate: PartGate): Promise<void> {
  await waitFor("parts 1 and 2 sent", () => gate.done === 2);
}

async function objectBytes(bucket: string, key: string): Promise<Uint8Array> {
  const out = await testS3().client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return await out.Body!.transformToByteArray();
}

/** Waits for `key` to hold `data`'s multipart ETag, then reads it back whole. */
async function assertObject(bucket: string, key: string, data: Uint8Array): Promise<void> {
  const etag = expectedEtag(data, PART_SIZE);
  await waitFor(`${key} with ETag ${etag}`, async () => {
    return (await listBucket(bucket)).get(key)?.etag === etag;
  }, 60_000);
  assert.equal(md5(await objectBytes(bucket, key)), md5(data), "the object holds the file's bytes");
}

/** The part numbers the state store remembers as sent, over all uploads. */
function recordedParts(stateDir: string): number[] {
  const db = new DatabaseSync(`${stateDir}/state.sqlite`, { readOnly: true });
  try {
    const rows = db.prepare("SELECT part FROM upload_parts ORDER BY part").all();
    return rows.map((row) => Number(row.part));
  } finally {
    db.close();
  }
}

const each = (from: number, to: number) =>
  Object.fromEntries(Array.from({ length: to - from + 1 }, (_, i) => [from + i, 1]));

Deno.test("a restart resumes a cut multipart upload: parts already sent are not sent again", async () => {
  const { root, bucket, config, stateDir } = await setup("resume");
  const data = bytes(SIZE, 21);
  await writeFile(root, "big.bin", data);
  const first = new PartGate(afterTwo);
  const one = await startService(config, [first]);
  await cutAfterTwo(first);
  await one.stop();
  assert.deepEqual(await pendingUploads(bucket), ["big.bin"], "a stop keeps the upload");
  assert.deepEqual(recordedParts(stateDir), [1, 2]);

  const second = new PartGate();
  const two = await startService(config, [second]);
  try {
    await assertObject(bucket, "big.bin", data);
  } finally {
    await two.stop();
  }
  assert.deepEqual(first.counts(), each(1, 2));
  assert.deepEqual(second.counts(), each(3, PARTS));
  assert.deepEqual(await pendingUploads(bucket), []);
  assert.deepEqual(recordedParts(stateDir), []);
});

Deno.test("a file changed between two runs: its cut upload is aborted and the new bytes uploaded", async () => {
  const { root, bucket, config } = await setup("resume-changed");
  await writeFile(root, "big.bin", bytes(SIZE, 22));
  const first = new PartGate(afterTwo);
  const one = await startService(config, [first]);
  await cutAfterTwo(first);
  await one.stop();
  // Same size, new bytes: the stamp (mtime, ctime) says the file changed.
  const changed = bytes(SIZE, 23);
  await writeFile(root, "big.bin", changed);

  const second = new PartGate();
  const two = await startService(config, [second]);
  try {
    await assertObject(bucket, "big.bin", changed);
  } finally {
    await two.stop();
  }
  assert.deepEqual(second.counts(), each(1, PARTS));
  assert.deepEqual(await pendingUploads(bucket), [], "the old upload is aborted");
});

Deno.test("a start aborts unknown uploads under the prefix and keeps its own to resume", async () => {
  const { root, bucket, config } = await setup("resume-stale", { bucket_path: "site" });
  const data = bytes(SIZE, 24);
  await writeFile(root, "big.bin", data);
  const first = new PartGate(afterTwo);
  const one = await startService(config, [first]);
  await cutAfterTwo(first);
  await one.stop();
  // Another tool's uploads: one of the same key, one of another, one outside the prefix.
  const client = testS3().client;
  for (const key of ["site/big.bin", "site/other.bin", "elsewhere/keep.bin"]) {
    await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  }
  assert.equal((await pendingUploads(bucket)).length, 4);

  const second = new PartGate();
  const two = await startService(config, [second]);
  try {
    await assertObject(bucket, "site/big.bin", data);
  } finally {
    await two.stop();
  }
  assert.deepEqual(second.counts(), each(3, PARTS), "our own upload was kept and resumed");
  assert.deepEqual(await pendingUploads(bucket), ["elsewhere/keep.bin"]);
});

Deno.test("a kept upload whose file needs no upload after all is aborted when its job ends", async () => {
  const { root, bucket, config } = await setup("resume-unused");
  const data = bytes(SIZE, 29);
  await writeFile(root, "big.bin", data);
  const first = new PartGate(afterTwo);
  const one = await startService(config, [first]);
  await cutAfterTwo(first);
  await one.stop();
  // Meanwhile another tool put the very same bytes there (same part size, so the same ETag).
  await uploadInParts(bucket, "big.bin", data, PART_SIZE);
  assert.equal((await pendingUploads(bucket)).length, 1);

  const second = new PartGate();
  const two = await startService(config, [second]);
  try {
    await waitFor("no unfinished upload", async () => (await pendingUploads(bucket)).length === 0);
  } finally {
    await two.stop();
  }
  assert.deepEqual(second.counts(), {});
  assert.equal((await listBucket(bucket)).get("big.bin")?.etag, expectedEtag(data, PART_SIZE));
});

Deno.test("a reload in the middle of a multipart upload keeps it, and the next generation resumes it", async () => {
  const { root, bucket, config } = await setup("resume-reload");
  const data = bytes(SIZE, 25);
  await writeFile(root, "big.bin", data);
  const [first, second] = [new PartGate(afterTwo), new PartGate()];
  const service = await startService(config, [first, second]);
  try {
    await cutAfterTwo(first);
    service.requestReload(true);
    await service.reloaded();
    await assertObject(bucket, "big.bin", data);
  } finally {
    await service.stop();
  }
  assert.deepEqual(first.counts(), each(1, 2));
  assert.deepEqual(second.counts(), each(3, PARTS));
  assert.deepEqual(await pendingUploads(bucket), []);
});

Deno.test("uploadFile() skips no part whose bytes changed under the same stamp: it starts afresh", async () => {
  const bucket = await newBucket("resume-bytes");
  const root = await tempDir();
  const path = `${root}/big.bin`;
  const data = bytes(3 * PART_SIZE + 100, 26);
  await Deno.writeFile(path, data);
  const state = StateStore.open(await tempDir());
  const uploads = state.forSite("s").uploads;
  const store = createS3Store(siteConfig({ localPath: root, bucket }), 8);
  // The stamp the job saw: a rewrite within the same second, mtime put back, would keep it.
  const resume = { uploads, file: (await statFile(path))!, site: "s" };
  const request = { key: "big.bin", path, size: data.length, storageClass: "STANDARD", resume };
  const first = new PartGate(afterTwo);
  const cancel = new AbortController();
  const cut = uploadFile(first.wrap(store), request, cancel.signal);
  await cutAfterTwo(first);
  cancel.abort(new DOMException("Stopping", "AbortError"));
  await assert.rejects(cut, { name: "AbortError" });
  assert.deepEqual([...uploads.get("big.bin")!.parts.keys()].sort(), [1, 2]);

  const changed = data.slice();
  changed[5]! ^= 0xff;
  await Deno.writeFile(path, changed);
  const second = new PartGate();
  const { etag } = await uploadFile(second.wrap(store), request);
  assert.equal(etag, expectedEtag(changed, PART_SIZE));
  assert.deepEqual(second.counts(), each(1, 4));
  assert.equal(md5(await objectBytes(bucket, "big.bin")), md5(changed));
  assert.deepEqual(await pendingUploads(bucket), [], "the old upload is aborted");
  assert.equal(uploads.has("big.bin"), false);
  state.close();
});

Deno.test("uploadFile() resumes a labelled upload, which keeps its s3sync-md5", async () => {
  const bucket = await newBucket("resume-label");
  const root = await tempDir();
  const path = `${root}/big.bin`;
  const data = bytes(3 * PART_SIZE + 100, 27);
  await Deno.writeFile(path, data);
  const state = StateStore.open(await tempDir());
  const store = createS3Store(siteConfig({ localPath: root, bucket }), 8);
  const resume = { uploads: state.forSite("s").uploads, file: (await statFile(path))!, site: "s" };
  const hashed = { md5: md5(data), etag: expectedEtag(data, PART_SIZE) };
  const request = { key: "big.bin", path, size: data.length, storageClass: "STANDARD", resume };
  const first = new PartGate(afterTwo);
  const cancel = new AbortController();
  const cut = uploadFile(first.wrap(store), { ...request, hashed }, cancel.signal);
  await cutAfterTwo(first);
  cancel.abort(new DOMException("Stopping", "AbortError"));
  await assert.rejects(cut, { name: "AbortError" });

  // Resumed with or without a new hash of the file: the label was fixed when it was created.
  const second = new PartGate();
  const { etag } = await uploadFile(second.wrap(store), request);
  assert.equal(etag, hashed.etag);
  assert.deepEqual(second.counts(), each(3, 4));
  const head = await testS3().client.send(
    new HeadObjectCommand({ Bucket: bucket, Key: "big.bin" }),
  );
  assert.equal(head.Metadata?.[MD5_METADATA], hashed.md5);
  assert.equal(md5(await objectBytes(bucket, "big.bin")), md5(data));
  state.close();
});

Deno.test("a daemon killed with SIGKILL mid-upload: the next start resumes from the parts the server holds", async () => {
  const root = await tempDir();
  const bucket = await newBucket("resume-kill");
  const data = bytes(SIZE, 28);
  await writeFile(root, "big.bin", data);
  const proxy = await FaultProxy.start(new URL(testS3().endpoint));
  // A slow uplink keeps the upload open long enough to be killed in the middle.
  proxy.set({ upBytesPerSecond: 4 * 1024 * 1024 });
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    endpoint: proxy.endpoint,
  }]);
  const args = ["--config", config, "--http-port", "0", "--metrics-port", "0"];
  const daemons = [new Daemon(args)];
  try {
    const client = testS3().client;
    const partsHeld = async () => {
      const { Uploads = [] } = await client.send(
        new ListMultipartUploadsCommand({ Bucket: bucket }),
      );
      const upload = Uploads[0];
      if (!upload) return 0;
      const out = await client.send(
        new ListPartsCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }),
      );
      return out.Parts?.length ?? 0;
    };
    await waitFor("a part on the server", async () => await partsHeld() > 0, 60_000);
    assert.equal(await daemons[0]!.stop("SIGKILL"), 137);
    proxy.set({ refuse: true });
    const before = await partsHeld();
    proxy.set({});
    daemons.push(new Daemon(args));
    await assertObject(bucket, "big.bin", data);
    const resumed = /resuming a multipart upload .*parts_held=(\d+)/.exec(daemons[1]!.log);
    assert.ok(resumed, "the upload was resumed");
    assert.ok(Number(resumed[1]) >= before && before > 0, `${resumed[1]} parts held of ${before}`);
    assert.doesNotMatch(daemons[1]!.log, /aborted/);
    assert.deepEqual(await pendingUploads(bucket), []);
  } finally {
    for (const daemon of daemons) await daemon.stop();
    await proxy.close();
  }
});

Deno.test("uploadFile() resumes an SSE-KMS upload under the same key, and starts afresh without it", async () => {
  const bucket = await newBucket("resume-sse");
  const root = await tempDir();
  const path = `${root}/big.bin`;
  const data = bytes(3 * PART_SIZE + 100, 28);
  await Deno.writeFile(path, data);
  const state = StateStore.open(await tempDir());
  const uploads = state.forSite("s").uploads;
  const kms = { kind: "sse", algorithm: "aws:kms", kmsKeyId: "s3sync-test-key" } as const;
  const encrypted = createS3Store(siteConfig({ localPath: root, bucket, encryption: kms }), 8);
  const plain = createS3Store(siteConfig({ localPath: root, bucket }), 8);
  const resume = { uploads, file: (await statFile(path))!, site: "s" };
  const request = { key: "big.bin", path, size: data.length, storageClass: "STANDARD", resume };
  const cutShort = async () => {
    const gate = new PartGate(afterTwo);
    const cancel = new AbortController();
    const cut = uploadFile(gate.wrap(encrypted), request, cancel.signal);
    await cutAfterTwo(gate);
    cancel.abort(new DOMException("Stopping", "AbortError"));
    await assert.rejects(cut, { name: "AbortError" });
  };
  const encryptionOf = async () =>
    (await testS3().client.send(new HeadObjectCommand({ Bucket: bucket, Key: "big.bin" })))
      .ServerSideEncryption;
  try {
    // RGW's part ETags under SSE-KMS are MD5s, so the held parts prove themselves (AWS's are not).
    await cutShort();
    const same = new PartGate();
    await uploadFile(same.wrap(encrypted), request);
    assert.deepEqual(same.counts(), each(3, 4));
    assert.equal(await encryptionOf(), "aws:kms");

    // sse removed from the site: the upload made under the KMS key is aborted, not completed.
    await cutShort();
    const [cut] = await pendingUploads(bucket);
    assert.equal(cut, "big.bin");
    const changed = new PartGate();
    await uploadFile(changed.wrap(plain), request);
    assert.deepEqual(changed.counts(), each(1, 4));
    assert.equal(await encryptionOf(), undefined);
    assert.equal(md5(await objectBytes(bucket, "big.bin")), md5(data));
    assert.deepEqual(await pendingUploads(bucket), [], "the KMS upload is aborted");
    assert.equal(uploads.has("big.bin"), false);
  } finally {
    encrypted.close?.();
    plain.close?.();
    state.close();
  }
});
