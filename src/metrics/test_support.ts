/** A tiny exposition-format parser and fakes shared by the metrics tests. */

import assert from "node:assert/strict";
import type { MetricsSource, SiteMetrics } from "./metrics.ts";

export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Just enough of the text format to check what a Prometheus server would read. */
export function parse(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("# TYPE ")) {
      const [, , name = "", type = ""] = line.split(" ");
      types.set(name, type);
    }
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `bad sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (
      const [, key = "", raw = ""] of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)",?/g)
    ) {
      labels[key] = raw.replace(/\\(.)/g, (_, c: string) => c === "n" ? "\n" : c);
    }
    const value = match[3] === "+Inf" ? Infinity : Number(match[3]);
    samples.push({ name: match[1] ?? "", labels, value });
  }
  return { types, samples };
}

export function site(name: string, overrides: Partial<SiteMetrics> = {}): SiteMetrics {
  return {
    site: name,
    localPath: `/data/${name}`,
    bucket: "backup",
    bucketPath: name,
    objects: 3,
    totalSize: 3000,
    errors: { local: 1, cloud: 2, watcher: 0 },
    uploaded: 5,
    copied: 1,
    deleted: 2,
    failedJobs: 1,
    bytesUploaded: 4096,
    queued: { checksum: 4, upload: 2 },
    inFlight: { checksum: 1, upload: 3 },
    parked: 1,
    lastReconcileAt: new Date("2026-11-24T10:00:00Z"),
    deletesHeld: 0,
    ...overrides,
  };
}

/** What the fake reports; tests change it between scrapes. `calls` counts `sites()` calls. */
export interface FakeState {
  sites: SiteMetrics[];
  succeeded: number;
  failed: number;
  configError: boolean;
  calls: number;
}

export function fakeSource(initial: SiteMetrics[]): { source: MetricsSource; state: FakeState } {
  const state: FakeState = {
    sites: initial,
    succeeded: 2,
    failed: 1,
    configError: false,
    calls: 0,
  };
  const source: MetricsSource = {
    sites: () => (state.calls++, state.sites),
    concurrency:
      () => [{ endpoint: "http://s3.test", limit: 12, changes: { grow: 2, throttled: 1 } }],
    reloads: () => ({ succeeded: state.succeeded, failed: state.failed }),
    configError: () => state.configError,
  };
  return { source, state };
}
