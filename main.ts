/**
 * s3sync-service: flags -> config -> lock on the state folder -> daemon (a generation of sites),
 * with the HTTP and metrics servers beside it; or `--once`, or `--verify`; signals. The only place
 * that exits.
 * @module
 */

import denoConfig from "./deno.json" with { type: "json" };
import { type CommandFlags, parseFlags, USAGE } from "./src/config/flags.ts";
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
import { Generation } from "./src/generation.ts";
import { createHandler } from "./src/http/handler.ts";
import { serveHttp } from "./src/http/server.ts";
import { inClusterAccess } from "./src/k8s/configmap.ts";
import { ConfigError, errorMessage, UsageError } from "./src/lib/errors.ts";
import { log, print, printStdout, printToStderr, registerSecret } from "./src/lib/log.ts";
import { createMetrics } from "./src/metrics/metrics.ts";
import { serveMetrics } from "./src/metrics/server.ts";
import { lockStateDir, StateDirBusyError, type StateLock } from "./src/state/lock.ts";
import {
  generationCounters,
  printSummary,
  startProgress,
  summaryJson,
  verifyCounters,
} from "./src/run_report.ts";
import {
  formatFinding,
  formatSummary,
  type SiteReport,
  verifyExitCode,
  verifyJson,
} from "./src/verify/report.ts";
import { verifyConfig } from "./src/verify/verify.ts";
import { listen, onStopSignals, signalRoles } from "./src/lib/signals.ts";

export const VERSION: string = denoConfig.version;

function fail(message: string, code: number): never {
  Deno.stderr.writeSync(new TextEncoder().encode(`s3sync-service: ${message}\n`));
  Deno.exit(code);
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
async function runOnce(loaded: LoadedConfig, flags: CommandFlags): Promise<number> {
  const { dryRun, verify } = flags;
  const confirm = flags.confirmDelete;
  const names = loaded.config.sites.map((site) => site.name);
  if (confirm?.site !== undefined && !names.includes(confirm.site)) {
    const known = names.map((name) => JSON.stringify(name)).join(", ");
    fail(`--confirm-delete: no site is named ${JSON.stringify(confirm.site)}; sites: ${known}`, 2);
  }
  const generation = new Generation(loaded.config, { once: true, dryRun, trustState: !verify });
  for (const site of generation.sites) {
    if (confirm && (confirm.site ?? site.config.name) === site.config.name) {
      site.guard.approve(confirm.count);
    }
  }
  const mode = dryRun ? "dry-run" : verify ? "once-verify" : "once";
  log.info("starting", { version: VERSION, sites: loaded.config.sites.length, mode });
  let stopping = false;
  const stop = () => {
    if (stopping) return generation.cancel();
    stopping = true;
    void generation.stop(loaded.config.shutdownTimeoutMs);
  };
  onStopSignals(stop);
  const progress = startProgress(() => generationCounters(generation));
  try {
    await generation.run();
  } finally {
    progress.stop();
  }
  const summary = generation.summary();
  // Anything left unsynced (a failed job, an unreadable file or folder) is a failure for cron.
  // Held deletes come first: they wait for a person, which a retry will not change.
  const tripped = generation.sites.filter((site) => site.guard.tripped);
  const code = tripped.length > 0 && !stopping
    ? EXIT_DELETES_HELD
    : summary.failed > 0 || summary.errors > 0 || stopping
    ? 1
    : 0;
  const held: Record<string, number> = {};
  for (const site of tripped) {
    const count = site.guard.tripped!.count;
    held[site.config.name] = count;
    print(
      `site ${JSON.stringify(site.config.name)}: held back ${count} deletes (more than ` +
        `max_delete allows); to make them: --once --confirm-delete ` +
        `${JSON.stringify(`${site.config.name}=${count}`)}`,
    );
  }
  if (flags.json) printStdout(JSON.stringify(summaryJson(summary, mode, code, held)));
  else printSummary(summary);
  return code;
}

/** --once ended with deletes held back by the delete guard. */
const EXIT_DELETES_HELD = 4;

/**
 * --verify alone: compares every site with its bucket by content and changes nothing. Prints each
 * finding and a summary per site on stdout; exits 0 (all equal), 1 (could not check everything)
 * or 3 (mismatches found).
 */
async function runVerify(loaded: LoadedConfig, flags: CommandFlags): Promise<number> {
  log.info("starting", { version: VERSION, sites: loaded.config.sites.length, mode: "verify" });
  const interrupt = new AbortController();
  const stop = () => interrupt.abort(new DOMException("Interrupted", "AbortError"));
  onStopSignals(stop);
  // With --json, the findings and the per-site lines are printed on stderr (print was told so).
  const started: SiteReport[] = [];
  const progress = startProgress(() => verifyCounters(started));
  try {
    const reports = await verifyConfig(loaded.config, {
      signal: interrupt.signal,
      onFinding: (finding) => print(formatFinding(finding)),
      onSiteStart: (report) => started.push(report),
      onSite: (report) => print(formatSummary(report)),
    }).finally(() => progress.stop());
    const code = verifyExitCode(reports);
    if (flags.json) printStdout(JSON.stringify(verifyJson(reports, code)));
    return code;
  } catch (err) {
    if (!interrupt.signal.aborted) throw err;
    log.warn("verification interrupted");
    // The sites checked so far, the interrupted one with what it had done.
    if (flags.json) printStdout(JSON.stringify(verifyJson(started, 1, true)));
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

/**
 * The service: runs until a stop signal; SIGHUP (not on Windows, see signals.ts), /reload and
 * config changes reload it.
 */
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
  onStopSignals(stop);
  for (const signal of signalRoles().reload) {
    listen(signal, () => {
      log.info(`${signal} received, reloading`);
      daemon.requestReload(false);
    });
  }

  await stopped.promise;
  control.abort();
  await Promise.all([...servers, watching]);
  log.info("stopped");
  return 0;
}

async function main(args: string[]): Promise<number> {
  let flags: CommandFlags;
  try {
    flags = parseFlags(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    fail(`${err.message}\n\n${USAGE}`, 2);
  }
  // stdout holds the one JSON object and nothing else: dry-run plans and findings go to stderr.
  if (flags.json) printToStderr();
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
    // Each mistake of a config with several on a line of its own, prefixed like a single one.
    fail(err.message.replaceAll("\n", "\ns3sync-service: "), 2);
  }
  applyProcessSettings(loaded.config, { first: true });
  registerSecret(Deno.env.get("AWS_SECRET_ACCESS_KEY"));
  registerSecret(Deno.env.get("AWS_SESSION_TOKEN"));
  registerSecret(Deno.env.get("S3SYNC_HTTP_TOKEN"));
  for (const warning of loaded.warnings) log.warn(warning);

  if (flags.verify && !flags.once) return await runVerify(loaded, flags);
  // Every run that opens the state store takes the lock; --dry-run does too, since it records the
  // hashes it confirms. A reload keeps this lock, even when it moves state_dir elsewhere.
  const lock = await lockState(loaded);
  try {
    if (flags.once || flags.dryRun) return await runOnce(loaded, flags);
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
