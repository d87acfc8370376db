/**
 * s3sync-service: flags -> config -> generation of sites; signals. The only place that exits.
 * @module
 */

import denoConfig from "./deno.json" with { type: "json" };
import { parseFlags, USAGE } from "./src/config/flags.ts";
import { loadConfig } from "./src/config/load.ts";
import type { Config } from "./src/config/types.ts";
import { Generation, type Summary } from "./src/daemon.ts";
import { ConfigError, errorMessage, UsageError } from "./src/lib/errors.ts";
import { log, print, registerSecret, setLogLevel } from "./src/lib/log.ts";

export const VERSION: string = denoConfig.version;

/** How long in-flight uploads may take to finish after a stop signal. */
const STOP_GRACE_MS = 30_000;

function fail(message: string, code: number): never {
  Deno.stderr.writeSync(new TextEncoder().encode(`s3sync-service: ${message}\n`));
  Deno.exit(code);
}

function protectSecrets(config: Config): void {
  for (const site of config.sites) {
    registerSecret(site.credentials?.accessKeyId);
    registerSecret(site.credentials?.secretAccessKey);
  }
  registerSecret(Deno.env.get("AWS_SECRET_ACCESS_KEY"));
  registerSecret(Deno.env.get("AWS_SESSION_TOKEN"));
}

function printSummary(summary: Summary): void {
  print(
    `checked ${summary.checked} files, uploaded ${summary.uploaded} ` +
      `(${summary.bytes} bytes), copied ${summary.copied}, deleted ${summary.deleted}, ` +
      `errors ${summary.errors}, failed jobs ${summary.failed}, ` +
      `in ${summary.seconds.toFixed(1)} s`,
  );
}

async function main(args: string[]): Promise<number> {
  let flags;
  try {
    flags = parseFlags(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    fail(`${err.message}\n\n${USAGE}`, 2);
  }
  if (flags.help) {
    print(USAGE);
    return 0;
  }
  if (flags.version) {
    print(VERSION);
    return 0;
  }
  let config: Config;
  try {
    const loaded = await loadConfig(
      flags.config,
      Deno.env.toObject(),
      navigator.hardwareConcurrency,
    );
    config = loaded.config;
    setLogLevel(config.logLevel);
    protectSecrets(config);
    for (const warning of loaded.warnings) log.warn(warning);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    fail(err.message, 2);
  }

  const once = flags.once || flags.dryRun;
  const generation = new Generation(config, { once, dryRun: flags.dryRun });
  log.info("starting", { version: VERSION, sites: config.sites.length, once });
  let stopping: Promise<void> | undefined;
  const stop = (signal: string) => {
    if (stopping) return;
    log.info("stopping", { signal, grace_s: STOP_GRACE_MS / 1000 });
    stopping = generation.stop(STOP_GRACE_MS);
  };
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
  await generation.run();
  await stopping;
  const summary = generation.summary();
  if (once) {
    printSummary(summary);
    // Anything left unsynced (a failed job, an unreadable file or folder) is a failure for cron.
    return summary.failed > 0 || summary.errors > 0 ? 1 : 0;
  }
  log.info("stopped");
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    fail(`unexpected error: ${errorMessage(err)}`, 1);
  }
}
