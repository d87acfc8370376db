/**
 * Durations in the Go tool's `time.ParseDuration` syntax (`1000ms`, `1m30s`, `1.5h`), because
 * existing config files are written that way. Values are milliseconds, as the rest of the code
 * (timers) uses.
 * @module
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  "\u00b5s": 1e-3, // µ MICRO SIGN, what Go prints
  "\u03bcs": 1e-3, // μ GREEK SMALL LETTER MU, which Go also accepts
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const UNITS = "ns, us, ms, s, m, h";
// One "<number><unit>" component; the unit runs until the next digit or dot, so "1h30m" splits
// cleanly.
const COMPONENT = /(\d*)(?:\.(\d*))?([^\d.]*)/y;

/**
 * Parses a Go duration (`30s`, `1m30s`, `500us`, `1.5h`, bare `0`) into milliseconds, which may be
 * fractional below 1ms. Throws a `SyntaxError` whose message quotes the text and says what is
 * wrong.
 */
export function parseDuration(text: string): number {
  const fail = (why: string) => new SyntaxError(`invalid duration ${JSON.stringify(text)}: ${why}`);
  if (text === "") throw fail("empty");
  if (text === "0") return 0; // Go's only unit-less form
  if (text.startsWith("-")) throw fail("must not be negative");
  const body = text.startsWith("+") ? text.slice(1) : text;
  if (body === "") throw fail('expected a number and a unit, such as "30s" or "1m30s"');
  let total = 0;
  COMPONENT.lastIndex = 0;
  while (COMPONENT.lastIndex < body.length) {
    const match = COMPONENT.exec(body);
    const [whole, int = "", frac, unit = ""] = match ?? [];
    if (!whole || (int === "" && !frac)) {
      throw fail('expected a number and a unit, such as "30s" or "1m30s"');
    }
    if (unit === "") throw fail(`missing unit (${UNITS})`);
    const factor = UNIT_MS[unit];
    if (factor === undefined) throw fail(`unknown unit ${JSON.stringify(unit)} (${UNITS})`);
    total += Number(`${int || "0"}.${frac ?? ""}0`) * factor;
  }
  if (!Number.isFinite(total)) throw fail("too large");
  return total;
}

/** Formats milliseconds as a person would write them in the config: `1h30m`, `1.5s`, `500ms`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1e-3) return `${round(ms * 1e6)}ns`;
  if (ms < 1) return `${round(ms * 1e3)}\u00b5s`;
  if (ms < 1000) return `${round(ms)}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = round((ms % 60_000) / 1000);
  return (hours ? `${hours}h` : "") + (minutes ? `${minutes}m` : "") +
    (seconds ? `${seconds}s` : "");
}

// Three decimals are plenty for a message and hide floating-point noise such as 1.5000000000000002.
function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
