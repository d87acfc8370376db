/**
 * Warnings for keys the resolver does not know. They warn rather than fail so a config written for
 * a newer or older version still starts, but a typo such as `retire_delete` would silently keep the
 * default, so the warning suggests the key the user probably meant.
 * @module
 */

const MAX_SUGGESTION_DISTANCE = 3;

/**
 * One warning per key of `raw` not in `known`, with the closest known key when one is near:
 * `sites[0].retire_delete: unknown key, did you mean "retire_deleted"?`.
 */
export function unknownKeyWarnings(
  raw: Record<string, unknown>,
  known: readonly string[],
  prefix: string,
): string[] {
  return Object.keys(raw).filter((key) => !known.includes(key)).map((key) => {
    const guess = closest(key, known);
    const hint = guess === undefined ? "ignored" : `did you mean ${JSON.stringify(guess)}?`;
    return `${prefix}${JSON.stringify(key).slice(1, -1)}: unknown key, ${hint}`;
  });
}

function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = MAX_SUGGESTION_DISTANCE + 1;
  for (const candidate of known) {
    const d = levenshtein(key.toLowerCase(), candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/** Edit distance (insertions, deletions, substitutions), one row at a time. */
export function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + cost,
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
