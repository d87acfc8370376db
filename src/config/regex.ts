/**
 * Compiles the Go (RE2) patterns of `exclusions`/`inclusions` into JS `RegExp`s. The syntaxes
 * mostly agree; this translates the parts existing configs use that JS spells differently, and lets
 * `RegExp` reject the rest with its own reason.
 * @module
 */

// JS has no inline flag groups, so a leading `(?i)`, `(?s)`, `(?m)` or a mix becomes RegExp flags.
const LEADING_FLAGS = /^\(\?([a-zA-Z]+)\)/;
// RE2's ASCII-only POSIX classes, valid inside a bracket expression such as "[[:space:]_]".
const POSIX_CLASSES: Readonly<Record<string, string>> = {
  alnum: "0-9A-Za-z",
  alpha: "A-Za-z",
  ascii: "\\x00-\\x7F",
  blank: "\\t ",
  cntrl: "\\x00-\\x1F\\x7F",
  digit: "0-9",
  graph: "!-~",
  lower: "a-z",
  print: " -~",
  punct: "!-\\/:-@\\[-`{-~",
  space: "\\t\\n\\v\\f\\r ",
  upper: "A-Z",
  word: "0-9A-Za-z_",
  xdigit: "0-9A-Fa-f",
};
const GO_TO_JS_FLAG: Readonly<Record<string, string>> = { i: "i", m: "m", s: "s" };
// Punctuation JS accepts after "\" anywhere in Unicode mode ("-" only inside a class), whereas Go
// accepts "\" before any ASCII punctuation; the rest is rewritten as \u{..}.
const JS_ESCAPABLE = new Set("^$\\.*+?()[]{}|/");

/**
 * Compiles one Go regular expression. The `u` flag is always set so `.` and classes work on code
 * points, as in Go. Throws a `SyntaxError` whose message is the cause alone (the caller quotes the
 * pattern and names the field).
 */
export function compileGoRegExp(pattern: string): RegExp {
  let body = pattern;
  const flags = new Set(["u"]);
  const lead = LEADING_FLAGS.exec(body);
  if (lead) {
    for (const flag of lead[1] ?? "") {
      const js = GO_TO_JS_FLAG[flag];
      if (js === undefined) throw new SyntaxError(`unsupported flag "${flag}" in "(?${lead[1]})"`);
      flags.add(js);
    }
    body = body.slice(lead[0].length);
  }
  rejectNestedRepetition(body);
  try {
    return new RegExp(translate(body), [...flags].sort().join(""));
  } catch (err) {
    const message = (err as Error).message;
    // V8 says "Invalid regular expression: /<translated>/flags: <cause>"; the translation is noise.
    throw new SyntaxError(
      /^Invalid regular expression: \/.*\/\w*: (.+)$/s.exec(message)?.[1] ?? message,
    );
  }
}

/** Rewrites Go-only escapes, groups and classes; the rest passes through for RegExp to judge. */
function translate(source: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i] ?? "";
    const posix = inClass ? /^\[:(\w+):\]/.exec(source.slice(i)) : null;
    if (posix && POSIX_CLASSES[posix[1] ?? ""] !== undefined) {
      out += POSIX_CLASSES[posix[1] ?? ""];
      i += posix[0].length - 1;
    } else if (c === "[" && !inClass) {
      inClass = true;
      out += source.startsWith("[^", i) ? "[^" : "[";
      if (source.startsWith("[^", i)) i++;
      // In Go a "]" right after "[" or "[^" is a literal; in JS it would close an empty class.
      if (source[i + 1] === "]") {
        out += "\\]";
        i++;
      }
    } else if (c === "]" && inClass) {
      inClass = false;
      out += c;
    } else if (c === "(" && source.startsWith("(?P<", i)) {
      out += "(?<"; // Go's named group spelling
      i += 3;
    } else if (c !== "\\") {
      out += c;
    } else {
      const next = source[i + 1] ?? "";
      i++;
      if (next === "A") out += "(?<![\\s\\S])"; // start of text, whatever the m flag says
      else if (next === "z") out += "(?![\\s\\S])"; // end of text
      else if (next === "Q") {
        const end = source.indexOf("\\E", i + 1);
        const literal = source.slice(i + 1, end === -1 ? undefined : end);
        out += [...literal].map(escapeChar).join("");
        i = end === -1 ? source.length : end + 1;
      } else if ((next === "p" || next === "P") && /^[A-Z]$/.test(source[i + 1] ?? "")) {
        out += `\\${next}{${source[i + 1]}}`; // Go's one-letter \pL is \p{L} in JS
        i++;
      } else if (/^[\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e ]$/.test(next)) out += escapeChar(next);
      else out += `\\${next}`;
    }
  }
  return out;
}

// A form of the character that Unicode-mode RegExp accepts both inside and outside a class.
function escapeChar(c: string): string {
  if (JS_ESCAPABLE.has(c)) return `\\${c}`;
  if (/^[\p{L}\p{N}]$/u.test(c)) return c;
  return `\\u{${c.codePointAt(0)?.toString(16)}}`;
}

/**
 * Go's RE2 matches in linear time whatever the pattern; JS backtracks, and a group that repeats
 * something repeated, like `(a+)+` or `(.*x)*`, can take exponential time on one unlucky path name
 * and stall the daemon. Such patterns are refused with a hint; what they mean can always be
 * written without the nesting.
 */
function rejectNestedRepetition(pattern: string): void {
  // For each open group: does it repeat something without bound?
  const groups: boolean[] = [];
  let innerRepeats = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (c === "[") {
      // Skip a character class: its "*" and "+" are literal.
      for (i++; i < pattern.length && pattern[i] !== "]"; i++) if (pattern[i] === "\\") i++;
      continue;
    }
    if (c === "(") {
      groups.push(innerRepeats);
      innerRepeats = false;
    } else if (c === ")") {
      const repeatsInside: boolean = innerRepeats;
      innerRepeats = groups.pop() ?? false;
      const next = pattern[i + 1];
      const unbounded = next === "*" || next === "+" ||
        (next === "{" && /^\{\d*,\}/.test(pattern.slice(i + 1)));
      if (repeatsInside && unbounded) {
        throw new SyntaxError(
          "a repeated group that itself repeats (like (a+)+) can take exponential time in " +
            "JavaScript; write it without the nesting",
        );
      }
      innerRepeats ||= repeatsInside;
    } else if (c === "*" || c === "+" || (c === "{" && /^\{\d*,\}/.test(pattern.slice(i)))) {
      innerRepeats = true;
    }
  }
}
