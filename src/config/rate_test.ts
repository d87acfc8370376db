import assert from "node:assert/strict";
import { ConfigError } from "../lib/errors.ts";
import { formatRate, readRate } from "./rate.ts";

Deno.test("readRate() reads the units people write, as their names say", () => {
  const cases: [unknown, number][] = [
    ["20MiB/s", 20 * 1024 ** 2],
    ["20 MiB/s", 20 * 1024 ** 2],
    ["500KB/s", 500_000],
    ["10M", 10 * 1024 ** 2],
    ["1.5GiB", 1.5 * 1024 ** 3],
    ["100Mbit/s", 12_500_000],
    ["65536", 65536],
    [65536, 65536],
    [0, 0],
    ["0", 0],
  ];
  for (const [text, bytes] of cases) {
    assert.equal(readRate(text, "bandwidth_limit"), bytes, `${text}`);
  }
  assert.equal(readRate(undefined, "bandwidth_limit"), undefined);
});

Deno.test("readRate() refuses what is not a rate, naming the field and the value", () => {
  for (const bad of ["100Mbps", "fast", "10 parsecs", "-1MiB/s", -5, true, "1KiB/s"]) {
    assert.throws(
      () => readRate(bad, "sites[0].bandwidth_limit"),
      (err: unknown) =>
        err instanceof ConfigError && err.message.includes("sites[0].bandwidth_limit"),
      String(bad),
    );
  }
});

Deno.test("formatRate() writes binary units", () => {
  assert.equal(formatRate(0), "unlimited");
  assert.equal(formatRate(10 * 1024 ** 2), "10 MiB/s");
  assert.equal(formatRate(12_500_000), "11.92 MiB/s");
});
