import assert from "node:assert/strict";
import { compareKeys } from "./key_order.ts";

const utf8 = (s: string) => [...new TextEncoder().encode(s)];

function byBytes(a: string, b: string): number {
  const [x, y] = [utf8(a), utf8(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

Deno.test("compareKeys sorts as S3 lists: UTF-8 byte order, '/' between other characters", () => {
  const keys = ["a0", "a/x", "a.txt", "a", "\uFFFF", "\u{1F600}", "\uE000", "é", "z", "\u{10000}"];
  const sorted = [...keys].sort(compareKeys);
  assert.deepEqual(sorted, [...keys].sort(byBytes));
  assert.deepEqual(sorted.slice(0, 4), ["a", "a.txt", "a/x", "a0"]);
  // Where UTF-16 order and UTF-8 order part: an astral character sorts after U+FFFF.
  assert.ok(compareKeys("\u{1F600}", "\uFFFF") > 0 && "\u{1F600}" < "\uFFFF");
});

Deno.test("compareKeys agrees with byte order on random strings", () => {
  const alphabet = [
    "a",
    "/",
    ".",
    "0",
    "\u00e9",
    "\uD7FF",
    "\uE000",
    "\uFFFF",
    "\u{10000}",
    "\u{1F600}",
  ];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % alphabet.length;
  const word = () => Array.from({ length: 1 + next() % 4 }, () => alphabet[next()]).join("");
  for (let i = 0; i < 2000; i++) {
    const [a, b] = [word(), word()];
    assert.equal(Math.sign(compareKeys(a, b)), Math.sign(byBytes(a, b)), `${a} vs ${b}`);
  }
});
