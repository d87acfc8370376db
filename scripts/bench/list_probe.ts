// deno-lint-ignore-file no-console -- a command-line tool that reports to its user
/**
 * Times listing a whole bucket: the sequential ListObjectsV2 loop (`S3Store.list`), `listParallel`
 * at several concurrencies, and `aws s3 ls --recursive` for reference; each run `--runs` times,
 * the median printed with the range and the requests made. Every listing must find the same keys
 * as the sequential one, each once, or the script fails. It only reads the bucket.
 *
 *   deno run --allow-all scripts/bench/list_probe.ts --bucket m100k [--runs 3] [--prefix P]
 *
 * The server and keys come from S3SYNC_TEST_ENDPOINT, S3SYNC_TEST_ACCESS_KEY, S3SYNC_TEST_SECRET_KEY
 * (and S3SYNC_TEST_REGION), or from S3_ENDPOINT and the AWS_* variables the aws CLI reads.
 * @module
 */

import { parseArgs } from "node:util";
import { type Listable, listParallel } from "../../src/store/list_parallel.ts";
import { createS3Store } from "../../src/store/s3.ts";
import type { ObjectStore, RemoteObject } from "../../src/store/types.ts";
import { ENV_NAMES } from "../s3env.ts";
import { summarize } from "./stats.ts";

const CONCURRENCIES = [1, 4, 8, 16];

const { values: flags } = parseArgs({
  options: {
    bucket: { type: "string" },
    prefix: { type: "string", default: "" },
    runs: { type: "string", default: "3" },
  },
});
const runs = Number(flags.runs);
if (!flags.bucket || !Number.isInteger(runs) || runs < 1) {
  console.error("Usage: list_probe.ts --bucket NAME [--runs N] [--prefix P]");
  Deno.exit(2);
}
const bucket = flags.bucket;
const prefix = flags.prefix;

function setting(ours: string, aws: string): string {
  const value = Deno.env.get(ours) ?? Deno.env.get(aws);
  if (!value) throw new Error(`Set ${ours} or ${aws}`);
  return value;
}
const endpoint = setting(ENV_NAMES.endpoint, "S3_ENDPOINT");
const accessKeyId = setting(ENV_NAMES.accessKey, "AWS_ACCESS_KEY_ID");
const secretAccessKey = setting(ENV_NAMES.secretKey, "AWS_SECRET_ACCESS_KEY");
const region = Deno.env.get(ENV_NAMES.region) ?? Deno.env.get("AWS_REGION") ?? "us-east-1";

// Sockets for the most requests any run has in flight, so none waits for one.
const store = createS3Store({
  name: "list-probe",
  endpoint,
  bucket,
  bucketRegion: region,
  credentials: { accessKeyId, secretAccessKey },
  s3OpsRetries: 3,
  requestTimeoutMs: 60_000,
}, Math.max(...CONCURRENCIES));

/** Counts the requests a listing makes. */
function counting(inner: ObjectStore): { store: Listable; requests: () => number } {
  let requests = 0;
  return {
    store: {
      bucket: inner.bucket,
      list: (prefix, signal) => inner.list(prefix, signal),
      listPage: (prefix, options, signal) => {
        requests++;
        return inner.listPage(prefix, options, signal);
      },
    },
    requests: () => requests,
  };
}

interface Run {
  readonly seconds: number;
  readonly requests: number | undefined;
  readonly keys: string[];
}

async function timed(
  list: () => AsyncIterable<RemoteObject[]>,
  requests: () => number,
): Promise<Run> {
  const keys: string[] = [];
  const started = performance.now();
  for await (const page of list()) for (const object of page) keys.push(object.key);
  return { seconds: (performance.now() - started) / 1000, requests: requests(), keys };
}

async function sequential(): Promise<Run> {
  let pages = 0;
  return await timed(async function* () {
    for await (const page of store.list(prefix)) {
      pages++;
      yield page;
    }
  }, () => pages);
}

async function parallel(concurrency: number): Promise<Run> {
  const counted = counting(store);
  return await timed(() => listParallel(counted.store, prefix, { concurrency }), counted.requests);
}

async function awsLs(): Promise<Run> {
  const started = performance.now();
  const out = await new Deno.Command("sh", {
    args: [
      "-c",
      `aws --endpoint-url "$0" s3 ls --recursive "s3://$1/$2" | wc -l`,
      endpoint,
      bucket,
      prefix,
    ],
    env: {
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_DEFAULT_REGION: region,
    },
    stdout: "piped",
  }).output();
  if (!out.success) throw new Error("aws s3 ls failed");
  const lines = Number(new TextDecoder().decode(out.stdout).trim());
  return { seconds: (performance.now() - started) / 1000, requests: undefined, keys: Array(lines) };
}

/** Throws unless `run` found exactly the keys of `reference`, each once. */
function check(what: string, run: Run, reference: Set<string> | undefined): void {
  if (!reference) return;
  const unique = new Set(run.keys);
  if (unique.size !== run.keys.length) throw new Error(`${what}: a key came twice`);
  if (unique.size !== reference.size || run.keys.some((key) => !reference.has(key))) {
    throw new Error(
      `${what}: ${unique.size} keys, not the ${reference.size} of the sequential list`,
    );
  }
}

const methods: [string, () => Promise<Run>][] = [
  ["sequential list()", sequential],
  ...CONCURRENCIES.map((n): [string, () => Promise<Run>] => [
    `listParallel, concurrency ${n}`,
    () => parallel(n),
  ]),
  ["aws s3 ls --recursive (lines counted)", awsLs],
];

let reference: Set<string> | undefined;
const rows: string[] = [];
for (const [what, run] of methods) {
  const seconds: number[] = [];
  let last: Run | undefined;
  for (let i = 0; i < runs; i++) {
    last = await run();
    if (what.startsWith("aws")) {
      if (reference && last.keys.length !== reference.size) {
        throw new Error(`${what}: ${last.keys.length} lines, not ${reference.size} keys`);
      }
    } else check(what, last, reference);
    reference ??= new Set(last.keys);
    seconds.push(last.seconds);
    console.error(`${what}: ${last.seconds.toFixed(3)} s, ${last.requests ?? "?"} requests`);
  }
  const s = summarize(seconds)!;
  rows.push(
    `| ${what} | ${s.median.toFixed(3)} | ${s.min.toFixed(3)}-${s.max.toFixed(3)} | ` +
      `${last!.requests ?? "n/a"} | ${last!.keys.length} |`,
  );
}
console.log(`Listing s3://${bucket}/${prefix} at ${endpoint}, ${runs} runs each\n`);
console.log("| method | median s | range s | requests (last run) | keys |\n|---|---|---|---|---|");
console.log(rows.join("\n"));
