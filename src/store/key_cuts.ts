/**
 * Keys that cut S3's key space (the code point order of keys, which is their UTF-8 byte order):
 * just below a key, between two keys, a ladder of block ends for a range with no known end, and
 * a choice among folder starts. Only `listParallel` uses them; they are apart to be tested alone.
 * @module
 */

import { compareKeys } from "../lib/key_order.ts";

const codePoints = (key: string): number[] => Array.from(key, (char) => char.codePointAt(0)!);

/**
 * Cut points after `last` when the end is unknown: the ends of the blocks of keys that share ever
 * fewer leading characters with it, from the first character `first` and `last` differ in (the
 * page's keys vary there) back to the prefix. In a folder of f0000000 to f0999999, after the page
 * f0000000 to f0000999: f0001, f001, f01, f1, g. Parts grow tenfold, the far ones soon empty.
 */
export function ladder(first: string, last: string, prefix: string): string[] {
  const points = codePoints(last);
  const start = codePoints(prefix).length;
  let same = start;
  for (const point of codePoints(first).slice(start)) {
    if (point !== points[same]) break;
    same++;
  }
  const cuts: string[] = [];
  for (let end = same; end > start; end--) {
    const next = points[end - 1]! === 0xd7ff ? 0xe000 : points[end - 1]! + 1;
    if (next <= 0x10ffff) cuts.push(String.fromCodePoint(...points.slice(0, end - 1), next));
  }
  return cuts;
}

/** A StartAfter for a range that starts at `key` itself: just below it, so as to skip nothing. */
export function below(key: string): string {
  const points = codePoints(key);
  const last = points.pop();
  if (last === undefined || last <= 1) return String.fromCodePoint(...points);
  return String.fromCodePoint(...points, last === 0xe000 ? 0xd7ff : last - 1, 0x10ffff);
}

/**
 * The characters keys vary in, going by a page of them: those at and after the first position its
 * first and last keys differ in, short of an extension, in code point order. Halving among these,
 * not among all code points, keeps cuts where keys are: in "0"-"f" for hex names, "0"-"9" for
 * numbers.
 */
export function alphabet(keys: string[]): number[] {
  const first = codePoints(keys[0] ?? "");
  const last = codePoints(keys.at(-1) ?? "");
  let same = 0;
  while (same < first.length && first[same] === last[same]) same++;
  const seen = new Set<number>();
  for (const key of keys) {
    const points = codePoints(key);
    const dot = points.lastIndexOf(0x2e);
    for (const point of points.slice(same, dot >= same ? dot : undefined)) seen.add(point);
  }
  return [...seen].sort((a, b) => a - b);
}

/**
 * Up to `parts - 1` keys that cut the keys after `after` and before `before` (undefined: to the
 * end of those starting with `prefix`) into `parts`, in order; fewer where no key fits between.
 */
export function splitPoints(
  after: string,
  before: string | undefined,
  prefix: string,
  parts: number,
  chars: readonly number[],
): string[] {
  if (parts < 2) return [];
  const middle = keyBetween(after, before, prefix, chars);
  if (middle === undefined) return [];
  const left = Math.floor(parts / 2);
  return [
    ...splitPoints(after, middle, prefix, left, chars),
    middle,
    ...splitPoints(middle, before, prefix, parts - left, chars),
  ];
}

/**
 * A key after `after` and before `before` (both start with `prefix`; no `before`: no end), at the
 * first position with room: the middle one of the `chars` that fit there (any code point when
 * `chars` is empty and there is an end). A wrong guess makes an empty part, one request.
 */
export function keyBetween(
  after: string,
  before: string | undefined,
  prefix: string,
  chars: readonly number[],
): string | undefined {
  if (before !== undefined && compareKeys(after, before) >= 0) return undefined;
  const a = codePoints(after);
  const b = before === undefined ? undefined : codePoints(before);
  let i = codePoints(prefix).length;
  let bounded = b !== undefined;
  while (b && i < a.length && a[i] === b[i]) i++;
  for (; i <= a.length; i++) {
    if (!bounded) {
      // Past the end of `after` any point would only find keys longer than those seen: in a
      // folder of numbered names, none.
      if (i === a.length) return undefined;
      // Keys after a folder's slash are that folder's: cut inside it, not among its siblings.
      if (a[i] === 0x2f) continue;
    }
    const middle = pointBetween(a[i] ?? 0, bounded ? b![i] ?? 0 : 0x110000, chars);
    if (middle !== undefined) return String.fromCodePoint(...a.slice(0, i), middle);
    // No room at this point: keep `after`'s character and look one further, with no bound.
    bounded = false;
  }
  return undefined;
}

/** A code point strictly between the two, never a surrogate (UTF-8 cannot hold one). */
function pointBetween(low: number, high: number, chars: readonly number[]): number | undefined {
  const inside = chars.filter((point) => point > low && point < high);
  if (inside.length || chars.length) return inside[inside.length >> 1];
  if (high > 0x10ffff) return undefined;
  let middle = Math.floor((low + high) / 2);
  if (middle >= 0xd800 && middle <= 0xdfff) middle = low < 0xd7ff ? 0xd7ff : 0xe000;
  return middle > low && middle < high ? middle : undefined;
}

/** The folder a lookup for cut points after `key`, and before `hi`, starts in. */
export function lookupFolder(key: string, hi: string | undefined, prefix: string): string {
  if (hi === undefined) return prefix;
  let same = 0;
  while (same < key.length && same < hi.length && key[same] === hi[same]) same++;
  const common = same > 0 ? key.slice(0, key.lastIndexOf("/", same - 1) + 1) : "";
  const folder = common.length > prefix.length ? common : prefix;
  // An `hi` that is a sub-folder of this folder was found by a lookup here, with every folder
  // start between `key` and it: only the folder holding `key` can hold more.
  const slash = key.indexOf("/", folder.length);
  const sibling = hi.endsWith("/") && hi.indexOf("/", folder.length) === hi.length - 1;
  return sibling && slash >= 0 ? key.slice(0, slash + 1) : folder;
}

const depth = (key: string): number => key.split("/").length - 1;
const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);

/**
 * How much each folder start weighs, in folders of the deepest level among them: the tree is taken
 * to branch alike, each folder a level up holding as many as the deepest level shows, plus one.
 */
function weights(marks: string[]): number[] {
  const depths = marks.map(depth);
  const deepest = Math.max(...depths);
  const fan = depths.filter((d) => d === deepest).length + 1;
  return depths.map((d) => fan ** Math.min(deepest - d, 3));
}

/**
 * About how many pages the folders starting at `marks` hold, if each holds as many keys as the
 * folders (at the deepest level among them) that the page of `keys` went through.
 */
export function pagesIn(marks: string[], keys: string[]): number {
  const deepest = Math.max(...marks.map(depth));
  const folders = new Set(keys.map((key) => key.split("/", deepest).join("/")));
  // And the rest of the folder being listed: about one, as in `spread`.
  return (1 + sum(weights(marks))) / folders.size;
}

/** Up to `count` of `marks` (folder starts, in order) to cut at, so that the parts weigh alike. */
export function spread(marks: string[], count: number): string[] {
  const weight = weights(marks);
  // The part before the first mark holds the rest of the folder being listed: about one.
  const total = 1 + sum(weight);
  const cuts: string[] = [];
  let before = 1;
  marks.forEach((mark, i) => {
    if (cuts.length < count && before >= total * (cuts.length + 1) / (count + 1)) cuts.push(mark);
    before += weight[i]!;
  });
  return cuts;
}
