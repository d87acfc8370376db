/**
 * Network profiles for the bench: every tool, and every reference loop, talks to the server
 * through a slow network in user space (tests/fault_proxy.ts over tests/wan_link.ts), since the
 * kernel here has no netem. Setup and checks of the buckets go direct.
 *
 *   lan   the server as it is (here: the same machine)
 *   wan   30 ms round trips
 *   far   120 ms round trips, 100 Mbit/s each way
 * @module
 */

import type { S3Env } from "../s3env.ts";
import { FaultProxy, type Faults } from "../../tests/fault_proxy.ts";

export const PROFILES: Readonly<Record<string, Faults | undefined>> = {
  lan: undefined,
  wan: { oneWayMs: 15 },
  far: { oneWayMs: 60, upBytesPerSecond: 12_500_000, downBytesPerSecond: 12_500_000 },
};

export interface Link {
  /** The server as the tools see it: through the link. */
  readonly s3: S3Env;
  close(): Promise<void>;
}

/** Puts the profile's link in front of `s3`; "lan" is `s3` itself. */
export async function startLink(s3: S3Env, profile: string): Promise<Link> {
  if (!(profile in PROFILES)) {
    throw new Error(
      `--profile takes one of ${Object.keys(PROFILES).join(", ")}, got "${profile}"`,
    );
  }
  const faults = PROFILES[profile];
  if (!faults) return { s3, close: () => Promise.resolve() };
  if (new URL(s3.endpoint).protocol !== "http:") {
    throw new Error(`--profile ${profile} needs an http:// server, got ${s3.endpoint}`);
  }
  const proxy = await FaultProxy.start(new URL(s3.endpoint));
  proxy.set(faults);
  return { s3: { ...s3, endpoint: proxy.endpoint }, close: () => proxy.close() };
}
