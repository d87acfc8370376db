/**
 * The control plane beside the engine: what /info and /metrics read from the daemon, and where the
 * config comes from (a file, or a Kubernetes ConfigMap) and what tells the daemon it changed. The
 * HTTP and metrics modules see only the narrow shapes built here, never sites.
 * @module
 */

import { loadConfig, loadConfigText, type LoadedConfig } from "./config/load.ts";
import type { Env } from "./config/resolve.ts";
import { watchConfigFile } from "./config/watch_file.ts";
import type { Daemon } from "./daemon.ts";
import type { StatusSource } from "./http/handler.ts";
import { readConfigMap, watchConfigMap } from "./k8s/configmap.ts";
import type { ClusterAccess, ConfigMapRef } from "./k8s/configmap.ts";
import { ConfigError, errorMessage } from "./lib/errors.ts";
import { log, logLevel } from "./lib/log.ts";
import type { MetricsSource } from "./metrics/metrics.ts";

export function statusSource(daemon: Daemon, version: string): StatusSource {
  return {
    version,
    startupTime: daemon.startupTime,
    status: () => daemon.status,
    sites: () => daemon.generation.sites.map((site) => site.info()),
    settings: () => ({
      uploadWorkers: daemon.generation.uploads.workers,
      checksumWorkers: daemon.generation.config.checksumWorkers,
      logLevel: logLevel(),
    }),
    concurrency: () => daemon.generation.uploads.endpoints(),
    lastReloadError: () => daemon.reloadError,
    requestReload: (force) => daemon.requestReload(force),
    confirmDelete: (name, count) =>
      daemon.generation.sites.find((site) => site.config.name === name)?.guard.confirmDeletes(
        count,
      ),
  };
}

export function metricsSource(daemon: Daemon): MetricsSource {
  return {
    sites: () =>
      daemon.generation.sites.map((site) => {
        const { objects, size } = site.remoteTotals();
        const stats = site.stats;
        return {
          site: site.config.name,
          localPath: site.config.localPath,
          bucket: site.config.bucket,
          bucketPath: site.config.bucketPath,
          objects,
          totalSize: size,
          errors: { ...stats.errors },
          uploaded: stats.uploaded,
          copied: stats.copied,
          deleted: stats.deleted,
          failedJobs: stats.failedJobs,
          bytesUploaded: stats.bytesUploaded,
          queued: site.queueLengths(),
          inFlight: site.inFlight(),
          parked: site.parked,
          lastReconcileAt: stats.lastReconcileAt,
          deletesHeld: site.guard.tripped?.count ?? 0,
        };
      }),
    concurrency: () => daemon.generation.uploads.endpoints(),
    reloads: () => ({ ...daemon.reloads }),
    configError: () => daemon.reloadError !== undefined,
  };
}

/** Where the config is read from; `watch` calls `onChange` when it may have changed. */
export interface ConfigSource {
  load(): Promise<LoadedConfig>;
  watch(onChange: () => void, signal: AbortSignal): Promise<void>;
}

export function fileSource(path: string, env: Env, cpus: number): ConfigSource {
  return {
    load: () => loadConfig(path, env, cpus),
    watch: async (onChange, signal) => {
      try {
        await watchConfigFile(path, onChange, signal);
      } catch (err) {
        // Reloads by HTTP and SIGHUP still work; only the automatic one is lost.
        log.warn("not watching the config file for changes", { error: errorMessage(err) });
      }
    },
  };
}

export function configMapSource(
  access: ClusterAccess,
  ref: ConfigMapRef,
  env: Env,
  cpus: number,
): ConfigSource {
  const name = `configmap ${ref.namespace}/${ref.name}`;
  return {
    load: async () => {
      let text: string;
      try {
        text = (await readConfigMap(access, ref)).text;
      } catch (err) {
        // Like an unreadable file: at start it stops the daemon, on reload the old config stays.
        throw new ConfigError("", errorMessage(err), { cause: err });
      }
      return loadConfigText(text, name, env, cpus);
    },
    watch: (onChange, signal) => watchConfigMap(access, ref, () => onChange(), signal),
  };
}
