/**
 * prom-client's default process metrics, trimmed to what is true under Deno. Checked on Deno 2.9:
 * CPU, start time, event loop lag (`monitorEventLoopDelay` is real), V8 heap and heap spaces work.
 * @module
 */

import { collectDefaultMetrics, Gauge, type Registry } from "prom-client";

/**
 * Deno stubs these Node internals: `_getActiveHandles()` and friends always return `[]` and GC
 * performance entries never arrive, so the series would be constant lies (or always empty).
 */
const DENO_STUBS = [
  "nodejs_gc_duration_seconds",
  "nodejs_active_handles",
  "nodejs_active_handles_total",
  "nodejs_active_requests",
  "nodejs_active_requests_total",
  "nodejs_active_resources",
  "nodejs_active_resources_total",
];

/** Read from /proc on Linux, which Deno allows only under --allow-all (not even --allow-read). */
const PROC_MEMORY = [
  "process_resident_memory_bytes",
  "process_virtual_memory_bytes",
  "process_heap_bytes",
];
const PROC_FDS = ["process_open_fds", "process_max_fds"];

function canReadProc(): boolean {
  try {
    Deno.readTextFileSync("/proc/self/status");
    return true;
  } catch {
    return false;
  }
}

export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of DENO_STUBS) registry.removeSingleMetric(name);
  // prom-client swallows the read error and reports 0 bytes and 0 fds, which would look like data.
  if (Deno.build.os !== "linux" || canReadProc()) return;
  for (const name of [...PROC_MEMORY, ...PROC_FDS]) registry.removeSingleMetric(name);
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    registers: [registry],
    collect() {
      this.set(Deno.memoryUsage().rss);
    },
  });
}
