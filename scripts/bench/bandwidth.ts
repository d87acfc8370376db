// deno-lint-ignore-file no-console -- a command-line tool that reports to its user
/**
 * Scenario 9: `bandwidth_limit`. Ours alone uploads a data set several times the limit through a
 * counting proxy, and the bytes it forwards are read every second: the mean rate over the run
 * (first byte to last) against the limit, and the fullest second. The goal: the mean within 5% of
 * the limit over 30 s, no second above it by more than 20%.
 * @module
 */

import { FaultProxy } from "../../tests/fault_proxy.ts";
import { generate } from "./data.ts";
import { runTimed } from "./proc.ts";
import { dropBucket, freshBucket } from "./s3.ts";
import { type Context, progress, spec } from "./scenarios.ts";
import { oursOnce, writeDaemonConfig } from "./tools.ts";

const MiB = 1024 * 1024;
const LIMIT = 10 * MiB;

export async function scenario9(ctx: Context): Promise<void> {
  const seconds = ctx.quick ? 10 : 30;
  // 8 MiB files: whole PUTs and a part each, the two paths a body takes.
  const files = Math.ceil((LIMIT * seconds) / (8 * MiB));
  const set = await generate(`${ctx.tmp}/data-bwlimit`, files, 8 * MiB, 909);
  const kase = `${files} x 8 MiB, bandwidth_limit 10MiB/s`;
  for (let run = 1; run <= ctx.runs; run++) {
    const proxy = await FaultProxy.start(new URL(ctx.s3.endpoint));
    const bucket = await freshBucket(ctx.client, "bwlimit");
    try {
      const s3 = { ...ctx.s3, endpoint: proxy.endpoint };
      const config = await writeDaemonConfig(s3, `${ctx.tmp}/bw-${run}.yml`, set.dir, bucket, {
        bandwidthLimit: "10MiB/s",
      });
      const perSecond: number[] = [];
      let last = 0;
      const sampler = setInterval(() => {
        perSecond.push(proxy.stats.bytesUp - last);
        last = proxy.stats.bytesUp;
      }, 1000);
      const inv = oursOnce(config);
      const out = await runTimed(inv.cmd, {
        env: inv.env,
        unsetEnv: inv.unsetEnv,
        timeoutMs: ctx.timeoutMs,
      });
      clearInterval(sampler);
      if (out.code !== 0) throw new Error(`bandwidth run failed: ${out.tail}`);
      // Whole seconds of uploading: from the first busy second to the last full one.
      const first = perSecond.findIndex((n) => n > LIMIT / 10);
      const busy = perSecond.slice(first, perSecond.length - 1);
      const mean = busy.reduce((a, b) => a + b, 0) / busy.length;
      const max = Math.max(...busy);
      const meanShare = (mean / LIMIT) * 100;
      const maxShare = (max / LIMIT) * 100;
      progress(
        `${kase}: run ${run}: mean ${(mean / MiB).toFixed(2)} MiB/s (${meanShare.toFixed(1)}% of ` +
          `the limit) over ${busy.length} s, fullest second ${(max / MiB).toFixed(2)} MiB/s ` +
          `(${maxShare.toFixed(1)}%)`,
      );
      const ours = ctx.tools.find((t) => t.kind === "ours")!;
      ctx.results.add(spec(9, kase, ours, "% of limit, mean", "higher"), meanShare);
      ctx.results.add(spec(9, kase, ours, "% of limit, fullest second", "lower"), maxShare);
    } finally {
      await proxy.close();
      await dropBucket(ctx.client, bucket);
    }
  }
  console.error(`bench: scenario 9 data in ${set.dir}`);
}
