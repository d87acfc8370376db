import assert from "node:assert/strict";
import type { SiteConfig } from "../config/types.ts";
import { SiteStats } from "../pipeline/context.ts";
import { DeleteRefused } from "../pipeline/deletes.ts";
import { S3Error } from "../store/s3_error.ts";
import { DuePaths } from "./due.ts";
import { Jobs, type JobsHost } from "./jobs.ts";

function host(): JobsHost & { errors: string[] } {
  const errors: string[] = [];
  const stats = new SiteStats();
  return {
    config: { name: "site", watchIntervalMs: 1_000 } as SiteConfig,
    due: new DuePaths(),
    stats,
    once: false,
    errors,
    recordError(scope, message) {
      errors.push(message);
      stats.recordError(scope, message);
    },
    notifyIfIdle() {},
  };
}

/** The log lines written to stderr while `fn` runs. */
function stderrLines(fn: () => void): string[] {
  const written: string[] = [];
  const original = Deno.stderr.writeSync;
  Deno.stderr.writeSync = (data: Uint8Array) => {
    written.push(new TextDecoder().decode(data));
    return data.length;
  };
  try {
    fn();
  } finally {
    Deno.stderr.writeSync = original;
  }
  return written.join("").split("\n").filter(Boolean);
}

const refused = (known: boolean) =>
  new DeleteRefused("site", "b", "old.txt", "Access Denied (AccessDenied)", known, new Error("x"));

Deno.test("Jobs.fail() reports a refused delete once, counts it, and does not park it", () => {
  const site = host();
  const jobs = new Jobs(site);
  const cancel = new AbortController().signal;
  const lines = stderrLines(() => {
    jobs.enter("old.txt");
    jobs.fail("old.txt", refused(false), cancel);
    // The next full comparison tries it again and is refused again: known, so quiet.
    jobs.enter("old.txt");
    jobs.fail("old.txt", refused(true), cancel);
  });
  assert.equal(jobs.parked, 0);
  assert.equal(site.due.size, 0);
  assert.equal(site.stats.errors.cloud, 1);
  assert.equal(site.stats.failedJobs, 1);
  const warned = lines.filter((line) => line.includes("refused by the server"));
  assert.equal(warned.length, 1);
  assert.match(warned[0]!, /not retried until the next full comparison/);
  assert.match(warned[0]!, /old\.txt/);
});

Deno.test("Jobs.fail() still parks an ordinary failed delete, to be tried again", () => {
  const site = host();
  const jobs = new Jobs(site);
  const err = new S3Error("delete", "site", "b", "old.txt", new Error("down"));
  jobs.enter("old.txt");
  stderrLines(() => jobs.fail("old.txt", err, new AbortController().signal));
  assert.equal(jobs.parked, 1);
  assert.equal(site.due.size, 1);
  assert.equal(site.stats.failedJobs, 1);
});
