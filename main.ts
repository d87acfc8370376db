/**
 * s3sync-service: flags -> config -> lock on the state folder -> daemon (a generation of sites),
 * with the HTTP and metrics servers beside it; or `--once`, or `--verify`; signals. The only place
 * that exits.
 * @module
 */

import denoConfig from "./deno.json" with { type: "json" };
import { parseFlags, USAGE } from "./src/config/flags.ts";
import type { LoadedConfig } from "./src/config/load.ts";
import type { Flags } from "./src/config/types.ts";
import {
  configMapSource,
  type ConfigSource,
  fileSource,
  metricsSource,
  statusSource,
} from "./src/control.ts";
import { applyProcessSettings, Daemon } from "./src/daemon.ts";
import { Generation, type Summary } from "./src/generation.ts";
import { createHandler } from "./src/http/handler.ts";
import { serveHttp } from "./src/http/server.ts";
import { inClusterAccess } from "./src/k8s/configmap.ts";
import { ConfigError, errorMessage, UsageError } from "./src/lib/errors.ts";
import { log, print, registerSecret } from "./src/lib/log.ts";
import { createMetrics } from "./src/metrics/metrics.ts";
import { serveMetrics } from "./src/metrics/server.ts";
import { lockStateDir, StateDirBusyError, type StateLock } from "./src/state/lock.ts";
import { formatFinding, formatSummary, verifyExitCode } from "./src/verify/report.ts";
import { verifyConfig } from "./src/verify/verify.ts";

export const VERSION: string = denoConfig.version;

/** Every line prefixed, so that each mistake of a config with several reads on its own. */
function fail(message: string, code: number): never {
  const lines = message.split("\n").map((line) => `s3sync-service: ${line}\n`);
  Deno.stderr.writeSync(new TextEncoder().encode(lines.join("")));
  Deno.exit(code);
}

function printSummary(summary: Summary): void {
  print(
    `checked ${summary.checked} files, uploaded ${summary.uploaded} ` +
      `(${summary.bytes} bytes), copied ${summary.copied}, deleted ${summary.deleted}, ` +
      `errors ${summary.errors}, failed jobs ${summary.failed}, ` +
      `in ${summary.seconds.toFixed(1)} s`,
  );
}

async function configSource(flags: Flags): Promise<ConfigSource> {
  const env = Deno.env.toObject();
  const cpus = navigator.hardwareConcurrency;
  if (!flags.configmap) return fileSource(flags.config, env, cpus);
  const [namespace = "", name = ""] = flags.configmap.split("/");
  try {
    const access = await inClusterAccess();
    registerSecret(access.token);
    return configMapSource(access, { namespace, name }, env, cpus);
  } catch (err) {
    throw new ConfigError("--configmap", errorMessage(err), { cause: err });
  }
}

/**
 * --once and --dry-run: one comparison of every site, a summary, and an exit code. With --verify
 * (`trustState` false) every same-size file is compared by content, so what differs is repaired.
 */
async function runOnce(loaded: LoadedConfig, dryRun: boolean, verify: boolean): Promise<number> {
  const generation = new Generation(loaded.config, { once: true, dryRun, trustState: !verify });
  const mode = verify ? "once-verify" : "once";
  log.info("starting", { version: VERSION, sites: loaded.config.sites.length, mode });
  let stopping = false;
  const stop = () => {
    if (stopping) return generation.cancel();
    stopping = true;
    void generation.stop(loaded.config.shutdownTimeoutMs);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await generation.run();
  const summary = generation.summary();
  printSummary(summary);
  // Anything left unsynced (a failed job, an unreadable file or folder) is a failure for cron.
  return summary.failed > 0 || summary.errors > 0 || stopping ? 1 : 0;
}

/**
 * --verify alone: compares every site with its bucket by content and changes nothing. Prints each
 * finding and a summary per site on stdout; exits 0 (all equal), 1 (could not check everything)
 * or 3 (mismatches found).
 */
async function runVerify(loaded: LoadedConfig): Promise<number> {
  log.info("starting", { version: VERSION, sites: loaded.config.sites.length, mode: "verify" });
  const interrupt = new AbortController();
  const stop = () => interrupt.abort(new DOMException("Interrupted", "AbortError"));
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  try {
    const reports = await verifyConfig(loaded.config, {
      signal: interrupt.signal,
      onFinding: (finding) => print(formatFinding(finding)),
      onSite: (report) => print(formatSummary(report)),
    });
    return verifyExitCode(reports);
  } catch (err) {
    if (!interrupt.signal.aborted) throw err;
    log.warn("verification interrupted");
    return 1;
  }
}

/**
 * Takes the state folder for this process, or exits 1 naming the one that holds it: unlike bad
 * config (2), that fixes itself once the other one ends, so systemd's restart may retry.
 */
async function lockState(loaded: LoadedConfig): Promise<StateLock | undefined> {
  try {
    return await lockStateDir(loaded.config.stateDir);
  } catch (err) {
    if (!(err instanceof StateDirBusyError)) throw err;
    fail(err.message, 1);
  }
}

/** The service: runs until SIGINT or SIGTERM; SIGHUP, /reload and config changes reload it. */
async function runService(
  flags: Flags,
  source: ConfigSource,
  loaded: LoadedConfig,
): Promise<number> {
  const daemon = new Daemon(loaded, () => source.load(), {
    onUpload: (site, seconds) => metrics.observeUpload(site, seconds),
  });
  const metrics = createMetrics(metricsSource(daemon));
  const control = new AbortController();
  const servers: Promise<void>[] = [];
  try {
    if (flags.httpPort > 0) {
      const handler = createHandler(statusSource(daemon, VERSION), {
        token: Deno.env.get("S3SYNC_HTTP_TOKEN") || undefined,
      });
      const http = await serveHttp(handler, {
        host: flags.httpHost,
        port: flags.httpPort,
        signal: control.signal,
      });
      servers.push(http.finished);
    }
    if (flags.metricsPort > 0) {
      const served = await serveMetrics(metrics, {
        host: flags.httpHost,
        port: flags.metricsPort,
        path: flags.metricsPath,
        signal: control.signal,
      });
      servers.push(served.finished);
    }
  } catch (err) {
    control.abort();
    await Promise.all(servers);
    fail(errorMessage(err), 1);
  }

  log.info("starting", { version: VERSION, sites: loaded.config.sites.length });
  daemon.start();
  const watching = source.watch(() => daemon.requestReload(false), control.signal);

  const stopped = Promise.withResolvers<void>();
  let signals = 0;
  const stop = (signal: string) => {
    if (++signals > 1) {
      log.warn("second stop signal: cancelling uploads in flight", { signal });
      return daemon.stopNow();
    }
    log.info("stopping", { signal, grace_s: daemon.generation.config.shutdownTimeoutMs / 1000 });
    daemon.stop().then(stopped.resolve, stopped.reject);
  };
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
  Deno.addSignalListener("SIGHUP", () => {
    log.info("SIGHUP received, reloading");
    daemon.requestReload(false);
  });

  await stopped.promise;
  control.abort();
  await Promise.all([...servers, watching]);
  log.info("stopped");
  return 0;
}

async function main(args: string[]): Promise<number> {
  let flags: Flags;
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
  let source: ConfigSource;
  let loaded: LoadedConfig;
  try {
    source = await configSource(flags);
    loaded = await source.load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    fail(err.message, 2);
  }
  applyProcessSettings(loaded.config, { first: true });
  registerSecret(Deno.env.get("AWS_SECRET_ACCESS_KEY"));
  registerSecret(Deno.env.get("AWS_SESSION_TOKEN"));
  registerSecret(Deno.env.get("S3SYNC_HTTP_TOKEN"));
  for (const warning of loaded.warnings) log.warn(warning);

  if (flags.verify && !flags.once) return await runVerify(loaded);
  // Every run that opens the state store takes the lock; --dry-run does too, since it records the
  // hashes it confirms. A reload keeps this lock, even when it moves state_dir elsewhere.
  const lock = await lockState(loaded);
  try {
    if (flags.once || flags.dryRun) return await runOnce(loaded, flags.dryRun, flags.verify);
    return await runService(flags, source, loaded);
  } finally {
    lock?.release();
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    fail(`unexpected error: ${errorMessage(err)}`, 1);
  }
}
