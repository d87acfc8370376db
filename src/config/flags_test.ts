import assert from "node:assert/strict";
import { parseFlags, USAGE } from "./flags.ts";

const fails = (args: string[], message: string) =>
  assert.throws(() => parseFlags(args), { name: "UsageError", message });

Deno.test("parseFlags() fills every default", () => {
  assert.deepEqual(parseFlags([]), {
    config: "config.yml",
    httpPort: 8090,
    httpHost: "0.0.0.0",
    metricsPort: 9350,
    metricsPath: "/metrics",
    configmap: undefined,
    once: false,
    dryRun: false,
    verify: false,
    json: false,
    version: false,
    help: false,
  });
});

Deno.test("parseFlags() reads --x v and --x=v", () => {
  const flags = parseFlags([
    "--config",
    "/etc/s3sync.yml",
    "--http-port=0",
    "--http-host",
    "127.0.0.1",
    "--metrics-port=9000",
    "--metrics-path",
    "/m",
    "--configmap=ns/cm",
    "--once",
    "--verify",
    "--json",
    "--version",
    "--help",
  ]);
  assert.deepEqual(flags, {
    config: "/etc/s3sync.yml",
    httpPort: 0,
    httpHost: "127.0.0.1",
    metricsPort: 9000,
    metricsPath: "/m",
    configmap: "ns/cm",
    once: true,
    dryRun: false,
    verify: true,
    json: true,
    version: true,
    help: true,
  });
});

Deno.test("parseFlags() reads the Go tool's single-dash spellings", () => {
  const flags = parseFlags(["-config", "x.yml", "-http-port=8091", "-once", "-metrics-port", "0"]);
  assert.equal(flags.config, "x.yml");
  assert.equal(flags.httpPort, 8091);
  assert.equal(flags.metricsPort, 0);
  assert.equal(flags.once, true);
  assert.equal(parseFlags(["-config=y.yml"]).config, "y.yml");
  assert.equal(parseFlags(["-h"]).help, true);
  assert.equal(parseFlags(["-help"]).help, true);
});

Deno.test("parseFlags() takes the next argument as a value even when it starts with a dash", () => {
  assert.equal(parseFlags(["-config", "-odd.yml"]).config, "-odd.yml");
  assert.equal(parseFlags(["--config", "--odd.yml", "--once"]).config, "--odd.yml");
});

Deno.test("parseFlags() accepts Go-style boolean values and lets the last flag win", () => {
  assert.equal(parseFlags(["-once=false"]).once, false);
  assert.equal(parseFlags(["--dry-run=true"]).dryRun, true);
  assert.equal(parseFlags(["--once", "--once=0"]).once, false);
  assert.equal(parseFlags(["--config", "a", "--config=b"]).config, "b");
  fails(["--once=maybe"], '--once: must be true or false, got "maybe"');
});

Deno.test("parseFlags() rejects unknown flags as typed", () => {
  fails(["--foo"], 'unknown flag "--foo"');
  fails(["-foo=1"], 'unknown flag "-foo"');
  fails(["-x"], 'unknown flag "-x"');
});

Deno.test("parseFlags() rejects missing and empty values", () => {
  fails(["--config"], "--config: missing value");
  fails(["-http-port"], "--http-port: missing value");
  fails(["--config="], "--config: must not be empty");
});

Deno.test("parseFlags() rejects bad ports, paths and configmap names", () => {
  for (const bad of ["abc", "-1", "65536", "1.5", "0x10", " 80"]) {
    fails(["--http-port", bad], `--http-port: must be an integer from 0 to 65535, got "${bad}"`);
  }
  fails(
    ["--metrics-port=99999"],
    '--metrics-port: must be an integer from 0 to 65535, got "99999"',
  );
  fails(["--metrics-path", "metrics"], '--metrics-path: must start with "/", got "metrics"');
  for (const bad of ["cm", "ns/", "/cm", "a/b/c"]) {
    fails(["--configmap", bad], `--configmap: must be "namespace/name", got "${bad}"`);
  }
});

Deno.test("parseFlags() rejects positional arguments", () => {
  fails(["config.yml"], 'unexpected argument "config.yml"');
  fails(["--once", "--", "x"], 'unexpected argument "x"');
});

Deno.test("USAGE lists every flag with its default, and the exit codes", () => {
  for (
    const flag of ["--config", "--http-port", "--http-host", "--metrics-port", "--metrics-path"]
  ) {
    assert.match(USAGE, new RegExp(`${flag} .*\\(default `));
  }
  for (const flag of ["--configmap", "--once", "--dry-run", "--json", "--version", "-h, --help"]) {
    assert.ok(USAGE.includes(flag), flag);
  }
  assert.ok(USAGE.includes("--verify"));
  assert.match(
    USAGE,
    /Exit codes: 0 ok, 1 [^]*, 2 bad flags or config, 3 --verify found mismatches/,
  );
});

Deno.test("parseFlags() reads --verify alone, with --once, and in the Go spelling", () => {
  assert.deepEqual(pick(parseFlags(["--verify"])), { once: false, dryRun: false, verify: true });
  assert.deepEqual(pick(parseFlags(["-once", "-verify"])), {
    once: true,
    dryRun: false,
    verify: true,
  });
  assert.equal(parseFlags(["-verify=false"]).verify, false);
});

Deno.test("parseFlags() refuses --verify with --dry-run, in either order", () => {
  fails(["--verify", "--dry-run"], "--verify and --dry-run cannot be combined");
  fails(["--dry-run", "--once", "-verify"], "--verify and --dry-run cannot be combined");
  // Only flags that are on count: a switched-off one is no conflict.
  assert.equal(parseFlags(["--verify=false", "--dry-run"]).dryRun, true);
});

Deno.test("parseFlags() takes --json with a run that ends, in both spellings", () => {
  assert.equal(parseFlags(["--once", "--json"]).json, true);
  assert.equal(parseFlags(["--dry-run", "-json"]).json, true);
  assert.equal(parseFlags(["--verify", "--json=true"]).json, true);
  assert.equal(parseFlags(["--once", "--verify", "--json"]).json, true);
  assert.equal(parseFlags(["--once"]).json, false);
});

Deno.test("parseFlags() refuses --json without --once, --dry-run or --verify", () => {
  const message = "--json needs --once, --dry-run or --verify: only a run that ends has a summary";
  fails(["--json"], message);
  fails(["--json", "--once=false"], message);
  // Switched off, it needs nothing.
  assert.equal(parseFlags(["--json=false"]).json, false);
});

function pick({ once, dryRun, verify }: ReturnType<typeof parseFlags>) {
  return { once, dryRun, verify };
}

Deno.test("parseFlags() reads --confirm-delete as a count, for one site or any", () => {
  assert.deepEqual(parseFlags(["--once", "--confirm-delete", "16"]).confirmDelete, { count: 16 });
  assert.deepEqual(parseFlags(["-once", "-confirm-delete=photos=3"]).confirmDelete, {
    site: "photos",
    count: 3,
  });
  // A name may hold "=": the count follows the last one.
  assert.deepEqual(parseFlags(["--once", "--confirm-delete", "a=b=7"]).confirmDelete, {
    site: "a=b",
    count: 7,
  });
  assert.equal("confirmDelete" in parseFlags(["--once"]), false);
});

Deno.test("parseFlags() refuses a bad --confirm-delete, and one without --once", () => {
  fails(
    ["--once", "--confirm-delete", "all"],
    '--confirm-delete: must be a count of objects, or SITE=count, got "all"',
  );
  fails(
    ["--once", "--confirm-delete", "x=-1"],
    '--confirm-delete: must be a count of objects, or SITE=count, got "x=-1"',
  );
  fails(
    ["--confirm-delete", "3"],
    "--confirm-delete needs --once; a running daemon takes POST /confirm-delete instead",
  );
});
