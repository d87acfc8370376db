// deno-lint-ignore-file no-console -- a command-line tool that reports to its user
/**
 * Measures what matching `exclusions`/`inclusions` costs per path: re2js (what the daemon uses)
 * against V8's `RegExp` given the same patterns in JS spelling (what the former Go-to-JS
 * translation produced for them). Every path of a walk and every watch event is tested against
 * every pattern, so the figure that matters is nanoseconds per path at a million files.
 *
 *   deno run --allow-all scripts/bench/regex.ts [--paths N] [--rounds N]
 *
 * Prints one line per pattern set: the median of the rounds, in ns per path, for both engines and
 * their ratio; then the compile time per pattern and a rough heap size per compiled pattern.
 * @module
 */

import { parseArgs } from "node:util";
import { RE2JS } from "re2js";
import { summarize } from "./stats.ts";

interface PatternSet {
  readonly name: string;
  /** As written in the config, Go (RE2) syntax. */
  readonly go: readonly string[];
  /** The same patterns as JS `RegExp`s, as the translation compiled them. */
  readonly js: readonly RegExp[];
}

const SETS: readonly PatternSet[] = [
  { name: "default inclusions .*", go: [".*"], js: [/.*/u] },
  { name: "\\.tmp$", go: ["\\.tmp$"], js: [/\.tmp$/u] },
  { name: "^logs/", go: ["^logs/"], js: [/^logs\//u] },
  { name: "(?i)\\.jpe?g$", go: ["(?i)\\.jpe?g$"], js: [/\.jpe?g$/iu] },
  {
    name: "alternation of extensions",
    go: ["\\.(tmp|bak|swp|part|crdownload)$"],
    js: [/\.(tmp|bak|swp|part|crdownload)$/u],
  },
  {
    name: "alternation of folders",
    go: ["(^|/)(node_modules|\\.git|__pycache__)/"],
    js: [/(^|\/)(node_modules|\.git|__pycache__)\//u],
  },
  {
    name: "config.example.yml exclusions (3)",
    go: ["\\.[Dd][Ss]_[Ss]tore$", "[Tt]humbs.db", "^cache/"],
    js: [/\.[Dd][Ss]_[Ss]tore$/u, /[Tt]humbs.db/u, /^cache\//u],
  },
  {
    name: "set of 5",
    go: ["\\.tmp$", "^logs/", "(?i)\\.jpe?g$", "(^|/)\\.git/", "~$"],
    js: [/\.tmp$/u, /^logs\//u, /\.jpe?g$/iu, /(^|\/)\.git\//u, /~$/u],
  },
];

const TOP = ["photos", "documents", "src", "logs", "cache", "music", "backup", "Фото", "projects"];
const MIDDLE = [
  "2024",
  "2025",
  "holidays",
  "node_modules/lodash",
  ".git/objects/ab",
  "reports/Q3",
  "Été à Paris",
  "__pycache__",
  "a/b/c/d",
  "clients/acme corp",
];
const STEMS = ["IMG_", "report-", "notes", "Thumbs", "data_", "app-2024-06-", "résumé", "track "];
const EXTS = [".jpg", ".JPG", ".jpeg", ".png", ".txt", ".log", ".tmp", ".docx", ".db", ".mp3", ""];

/** Relative paths like a real tree's, deterministic so every run sees the same ones. */
function makePaths(count: number): string[] {
  let seed = 42;
  // mulberry32: small, and its low bits are as random as its high ones.
  const next = (n: number) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
  const pick = <T>(list: readonly T[]) => list[next(list.length)] as T;
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const folders = [pick(TOP)];
    for (let depth = next(4); depth > 0; depth--) folders.push(pick(MIDDLE));
    const name = next(50) === 0 ? ".DS_Store" : `${pick(STEMS)}${next(100000)}${pick(EXTS)}`;
    paths.push(`${folders.join("/")}/${name}${next(200) === 0 ? "~" : ""}`);
  }
  return paths;
}

/** Nanoseconds per path for one pass, and how many paths matched (both engines must agree). */
function pass(paths: readonly string[], test: (path: string) => boolean): [number, number] {
  let matched = 0;
  const start = performance.now();
  for (const path of paths) if (test(path)) matched++;
  return [((performance.now() - start) * 1e6) / paths.length, matched];
}

function median(values: readonly number[]): number {
  return summarize(values)?.median ?? NaN;
}

function measure(set: PatternSet, paths: readonly string[], rounds: number): string {
  const re2 = set.go.map((p) => RE2JS.compile(p));
  const combined = RE2JS.compile(set.go.map((p) => `(?:${p})`).join("|"));
  const engines: Record<string, (path: string) => boolean> = {
    regexp: (path) => set.js.some((re) => re.test(path)),
    re2js: (path) => re2.some((re) => re.test(path)),
    "re2js one": (path) => combined.test(path),
  };
  const times: Record<string, number[]> = {};
  const counts = new Set<number>();
  for (let round = 0; round < rounds; round++) {
    for (const [name, test] of Object.entries(engines)) {
      pass(paths.slice(0, 20_000), test); // warm the JIT and re2js's lazy DFA
      const [ns, matched] = pass(paths, test);
      (times[name] ??= []).push(ns);
      counts.add(matched);
    }
  }
  if (counts.size !== 1) throw new Error(`engines disagree on "${set.name}": ${[...counts]}`);
  const [js, re, one] = ["regexp", "re2js", "re2js one"].map((n) => median(times[n] ?? []));
  return `| ${set.name} | ${[...counts][0]} | ${js?.toFixed(0)} | ${re?.toFixed(0)} | ` +
    `${((re ?? NaN) / (js ?? NaN)).toFixed(2)} | ${one?.toFixed(0)} |`;
}

/** Microseconds to compile one pattern, and heap bytes per compiled pattern after some use. */
function compileCost(patterns: readonly string[], paths: readonly string[]): [number, number] {
  const n = 2_000;
  const start = performance.now();
  for (let i = 0; i < n; i++) for (const p of patterns) RE2JS.compile(p);
  const micros = ((performance.now() - start) * 1000) / (n * patterns.length);
  const before = Deno.memoryUsage().heapUsed;
  const kept = Array.from({ length: n }, () => patterns.map((p) => RE2JS.compile(p)));
  // The lazy DFA grows its states on first use, so the heap is read after matching.
  for (const set of kept) for (const path of paths.slice(0, 200)) set.some((re) => re.test(path));
  const bytes = (Deno.memoryUsage().heapUsed - before) / (n * patterns.length);
  return [micros, kept.length > 0 ? bytes : 0];
}

function jsCompileCost(set: PatternSet): number {
  const n = 20_000;
  const start = performance.now();
  for (let i = 0; i < n; i++) for (const re of set.js) new RegExp(re.source, re.flags).test("x");
  return ((performance.now() - start) * 1000) / (n * set.js.length);
}

const { values } = parseArgs({
  options: {
    paths: { type: "string", default: "1000000" },
    rounds: { type: "string", default: "3" },
  },
});
const count = Number(values.paths);
const rounds = Number(values.rounds);
const paths = makePaths(count);
const avg = paths.reduce((sum, p) => sum + p.length, 0) / paths.length;
console.log(
  `${count.toLocaleString("en")} paths (average ${avg.toFixed(0)} chars), median of ${rounds} ` +
    `rounds, Deno ${Deno.version.deno}, V8 ${Deno.version.v8}\n`,
);
console.log(
  "| pattern set | paths matched | RegExp ns/path | re2js ns/path | ratio | re2js, one |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
for (const set of SETS) console.log(measure(set, paths, rounds));
const five = SETS[SETS.length - 1] as PatternSet;
const [micros, bytes] = compileCost(five.go, paths);
console.log(
  `\nCompile, set of 5: re2js ${micros.toFixed(1)} µs a pattern, about ` +
    `${(bytes / 1024).toFixed(1)} KiB of heap each after use; RegExp ` +
    `${jsCompileCost(five).toFixed(1)} µs a pattern.`,
);
