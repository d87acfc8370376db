/**
 * The delete guard against the real server: a comparison or a watched `rm -rf` that would delete
 * more than `max_delete` deletes nothing (the bucket listing shows it), the site says so in /info,
 * the metrics and its exit code, and the deletes go once confirmed (the flag, or the POST with the
 * token) or once the files are back under the cap.
 * @module
 */

import assert from "node:assert/strict";
import {
  Daemon,
  freePort,
  newBucket,
  parseMetrics,
  runDaemon,
  sortedKeys,
  tempDir,
  waitFor,
  waitForKeys,
  writeConfig,
  writeFile,
} from "./helpers.ts";

const FILES = Array.from({ length: 20 }, (_, i) => `dir/f${String(i).padStart(2, "0")}.txt`);
/** The 16 files of the 20 the tests remove: past the default cap of half the site. */
const REMOVED = FILES.slice(4);
const KEPT = FILES.slice(0, 4);
const TOKEN = "confirm-token-for-tests";

/** The same 20 files with the 16 in a folder of their own, which the move tests rename. */
const SPLIT = [...KEPT.map((rel) => rel.replace("dir/", "keep/")), ...REMOVED];
const moved = (rels: readonly string[]) => rels.map((rel) => rel.replace("dir/", "moved/"));

/** A folder of 20 files and a bucket that holds them, synced by a first --once. */
async function syncedSite(
  label: string,
  site: Record<string, unknown> = {},
  files: readonly string[] = FILES,
) {
  const root = await tempDir();
  for (const rel of files) await writeFile(root, rel, `content of ${rel}`);
  const bucket = await newBucket(label);
  const config = await writeConfig(await tempDir(), [
    { name: label, local_path: root, bucket, retire_deleted: true, ...site },
  ]);
  const first = await runDaemon(["--config", config, "--once"]);
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(await sortedKeys(bucket), [...files].sort());
  return { root, bucket, config };
}

Deno.test("--once holds back a comparison's deletes over max_delete and exits 4 until confirmed", async () => {
  const { root, bucket, config } = await syncedSite("guardonce");
  for (const rel of REMOVED) await Deno.remove(`${root}/${rel}`);

  const held = await runDaemon(["--config", config, "--once"]);
  assert.equal(held.code, 4, held.stderr);
  assert.deepEqual(await sortedKeys(bucket), FILES, "nothing deleted");
  assert.match(held.stderr, /delete guard tripped: a comparison would delete more objects/);
  assert.match(held.stderr, /deletes=16 cap=10/);
  assert.match(held.stderr, /sample="dir\/f04\.txt, dir\/f05\.txt, /);
  assert.match(held.stdout, /--confirm-delete "guardonce=16"/);

  // --json names the count held per site, what --confirm-delete takes; the hint goes to stderr.
  const json = await runDaemon(["--config", config, "--once", "--json"]);
  assert.equal(json.code, 4, json.stderr);
  const summary = JSON.parse(json.stdout);
  assert.deepEqual(summary.held_deletes, { guardonce: 16 });
  assert.equal(summary.exit_code, 4);
  assert.match(json.stderr, /--confirm-delete "guardonce=16"/);

  // An approval of another count covers nothing.
  const wrong = await runDaemon(["--config", config, "--once", "--confirm-delete", "guardonce=15"]);
  assert.equal(wrong.code, 4, wrong.stderr);
  assert.deepEqual(await sortedKeys(bucket), FILES);

  const confirmed = await runDaemon([
    "--config",
    config,
    "--once",
    "--confirm-delete",
    "16",
    "--json",
  ]);
  assert.equal(confirmed.code, 0, confirmed.stderr);
  const done = JSON.parse(confirmed.stdout);
  assert.equal(done.deleted, 16);
  assert.equal(done.held_deletes, undefined, "nothing held, no field");
  assert.deepEqual(await sortedKeys(bucket), KEPT);
});

Deno.test("--confirm-delete is refused without --once, and for a site that does not exist", async () => {
  const { config } = await syncedSite("guardflag");
  const watching = await runDaemon(["--config", config, "--confirm-delete", "3"]);
  assert.equal(watching.code, 2);
  assert.match(watching.stderr, /--confirm-delete needs --once/);
  const unknown = await runDaemon(["--config", config, "--once", "--confirm-delete", "nope=3"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /--confirm-delete: no site is named "nope"; sites: "guardflag"/);
});

Deno.test("max_delete: 100% lets a comparison delete everything missing", async () => {
  const { root, bucket, config } = await syncedSite("guardoff", { max_delete: "100%" });
  for (const rel of REMOVED) await Deno.remove(`${root}/${rel}`);
  const run = await runDaemon(["--config", config, "--once"]);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(await sortedKeys(bucket), KEPT);
});

/** The daemon watching a synced site, with /info, /metrics and the HTTP token. */
async function watchedSite(
  label: string,
  files: readonly string[] = FILES,
  site: Record<string, unknown> = {},
) {
  const { root, bucket, config } = await syncedSite(
    label,
    { watch_interval: "300ms", ...site },
    files,
  );
  const httpPort = freePort();
  const metricsPort = freePort();
  const daemon = new Daemon([
    "--config",
    config,
    "--http-port",
    String(httpPort),
    "--http-host",
    "127.0.0.1",
    "--metrics-port",
    String(metricsPort),
  ], { env: { S3SYNC_HTTP_TOKEN: TOKEN } });
  await daemon.waitForLog(/initial sync done/);
  const info = async () => {
    const body = await (await fetch(`http://127.0.0.1:${httpPort}/info`)).json();
    return body.SITE_STATES[0].delete_guard;
  };
  const tripped = async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    return parseMetrics(text).get(`s3sync_delete_guard_tripped{site="${label}"}`);
  };
  const confirm = (count: number, token?: string) =>
    fetch(`http://127.0.0.1:${httpPort}/confirm-delete?site=${label}&count=${count}`, {
      method: "POST",
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    });
  return { root, bucket, daemon, info, tripped, confirm };
}

Deno.test("a watched rm -rf of most of the tree trips the guard; the POST with the token confirms", async () => {
  const { root, bucket, daemon, info, tripped, confirm } = await watchedSite("guardwatch");
  try {
    assert.equal(await tripped(), 0);
    for (const rel of REMOVED) await Deno.remove(`${root}/${rel}`);
    await daemon.waitForLog(/delete guard tripped: watched deletes would delete more/);
    // The comparison the trip asked for counts exactly what is missing.
    await waitFor("16 deletes held in /info", async () => (await info())?.held === 16);
    const guard = await info();
    assert.equal(guard.tripped, true);
    assert.equal(guard.max_delete, 10);
    assert.equal(guard.sample[0], "dir/f04.txt");
    assert.equal(await tripped(), 1);
    assert.deepEqual(await sortedKeys(bucket), FILES, "nothing deleted");

    const noToken = await confirm(16);
    assert.equal(noToken.status, 401);
    await noToken.body?.cancel();
    const wrongCount = await confirm(15, TOKEN);
    assert.equal(wrongCount.status, 409);
    assert.equal((await wrongCount.json()).held, 16);
    assert.deepEqual(await sortedKeys(bucket), FILES);

    const ok = await confirm(16, TOKEN);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { site: "guardwatch", confirmed: 16 });
    await waitForKeys(bucket, KEPT);
    await waitFor("the guard released", async () => (await info()) === null);
    assert.equal(await tripped(), 0);
  } finally {
    await daemon.stop();
  }
});

Deno.test("a tripped guard lets go once enough files are back, and deletes only what is missing", async () => {
  const { root, bucket, daemon, info } = await watchedSite("guardback");
  try {
    for (const rel of REMOVED) await Deno.remove(`${root}/${rel}`);
    await waitFor("16 deletes held in /info", async () => (await info())?.held === 16);
    // 12 of the 16 come back: 4 missing is under the cap of 10.
    const back = REMOVED.slice(0, 12);
    for (const rel of back) await writeFile(root, rel, `content of ${rel}`);
    await waitFor("the guard released", async () => (await info()) === null);
    await waitForKeys(bucket, [...KEPT, ...back]);
    assert.match(daemon.log, /delete guard released/);
  } finally {
    await daemon.stop();
  }
});

Deno.test("a watched mv of most of the tree is no loss: the old keys go uncounted; an rm -rf still trips", async () => {
  // A count, not a share: the new keys in the listing do not raise it while the old ones wait.
  const { root, bucket, daemon, info } = await watchedSite("guardmove", SPLIT, { max_delete: 10 });
  const kept = SPLIT.slice(0, KEPT.length);
  try {
    await Deno.rename(`${root}/dir`, `${root}/moved`);
    await waitForKeys(bucket, [...kept, ...moved(REMOVED)]);
    // Copied inside the bucket, each verified, so that deleting the old key loses nothing.
    assert.match(daemon.log, /copied site=guardmove key="?moved\/f04\.txt"? from="?dir\/f04\.txt/);
    assert.doesNotMatch(daemon.log, /delete guard tripped/);
    assert.equal(await info(), null);

    // The same 16 files gone for good trip the guard, and the move's 16 deletes are not among
    // those counted in the window.
    await Deno.remove(`${root}/moved`, { recursive: true });
    await waitFor("16 deletes held in /info", async () => (await info())?.held === 16);
    const guard = await info();
    assert.equal(guard.recently_deleted, 0);
    assert.deepEqual(await sortedKeys(bucket), [...kept, ...moved(REMOVED)].sort(), "none deleted");
  } finally {
    await daemon.stop();
  }
});

Deno.test("a watched mv whose copies fail counts its deletes: a proposed move is no survival", async () => {
  // RGW copies no SSE-KMS object (501): each renamed file is uploaded instead, so the old keys'
  // bytes were never copied by the move, and their deletes count like those of an rm -rf.
  const { root, bucket, daemon, info } = await watchedSite("guardmovefail", SPLIT, {
    max_delete: 10,
    sse: "aws:kms",
    sse_kms_key_id: "s3sync-test-key",
  });
  const kept = SPLIT.slice(0, KEPT.length);
  try {
    await Deno.rename(`${root}/dir`, `${root}/moved`);
    await waitFor("16 deletes held in /info", async () => (await info())?.held === 16);
    assert.doesNotMatch(daemon.log, / copied site=/);
    assert.deepEqual(await sortedKeys(bucket), [...kept, ...moved(REMOVED), ...REMOVED].sort());
  } finally {
    await daemon.stop();
  }
});
