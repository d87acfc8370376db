import assert from "node:assert/strict";
import { compileGoRegExp } from "./regex.ts";
import { resolveConfig } from "./resolve.ts";
import { absolutePath } from "./test_support.ts";

/**
 * Go patterns with paths they must and must not match. Each expectation is read from the syntax
 * documentation of Go's regexp/syntax and RE2's wiki, not from the engine under test. Many of these
 * were refused, or matched differently, when patterns were translated to JS `RegExp`.
 */
const CORPUS: readonly { pattern: string; matches: string[]; misses: string[] }[] = [
  // config.example.yml
  {
    pattern: "\\.[Dd][Ss]_[Ss]tore$",
    matches: ["a/.DS_Store", ".ds_store"],
    misses: ["a.DS_Store~"],
  },
  { pattern: "[Tt]humbs.db", matches: ["x/Thumbs.db", "thumbsXdb"], misses: ["Thumbs.d"] },
  { pattern: "^cache/", matches: ["cache/a"], misses: ["a/cache/b", "cache"] },
  { pattern: "(?i)\\.jpe?g$", matches: ["a.JPG", "b/c.JpEg"], misses: ["a.jpg.txt", "a.jpgg"] },
  // Nested repetition: linear in RE2, exponential for a backtracking engine on the misses.
  { pattern: "(a+)+$", matches: ["baaa"], misses: [`${"a".repeat(40)}!`] },
  { pattern: "(x+x+)+y", matches: ["xxy"], misses: ["x".repeat(40)] },
  { pattern: "((ab)*c)+$", matches: ["abababcc", "c"], misses: ["ab"] },
  { pattern: "(.*/)*tmp/", matches: ["a/b/tmp/c", "tmp/c"], misses: ["a/b/tmpx/c"] },
  // Flags: i, m, s, U, anywhere in the pattern, scoped to their group.
  { pattern: "a(?i)b", matches: ["aB", "ab"], misses: ["AB"] },
  { pattern: "(?i:cache)/x", matches: ["CACHE/x"], misses: ["CACHE/X"] },
  { pattern: "(?s)a.b", matches: ["a\nb"], misses: ["ab"] },
  // Without s, "." is any character but newline: a carriage return is one.
  { pattern: "a.b", matches: ["a\rb", "a\u2028b"], misses: ["a\nb"] },
  { pattern: "(?m)^b$", matches: ["a\nb\nc"], misses: ["ab"] },
  { pattern: "^b$", matches: ["b"], misses: ["a\nb"] },
  { pattern: "(?U)a+b", matches: ["caab"], misses: ["ca"] },
  { pattern: "(?i)straße", matches: ["STRAẞE", "Straße"], misses: ["STRASSE"] },
  // Unicode classes.
  { pattern: "^\\pL+$", matches: ["Été", "фото"], misses: ["a1"] },
  { pattern: "^\\PL+$", matches: ["123_-"], misses: ["1a"] },
  { pattern: "\\p{Greek}", matches: ["α.txt"], misses: ["a.txt"] },
  { pattern: "^\\P{Greek}+$", matches: ["a.txt"], misses: ["aβ"] },
  { pattern: "^[\\p{Lu}\\d]+$", matches: ["ÉA1"], misses: ["éa"] },
  // ASCII classes: POSIX and Perl ones are ASCII only; \s is [\t\n\f\r ], without \v.
  { pattern: "^[[:alpha:]]+$", matches: ["abcXYZ"], misses: ["é", "a1"] },
  { pattern: "^[[:^alpha:]]+$", matches: ["123/"], misses: ["1a"] },
  { pattern: "^[[:digit:][:upper:]_]+$", matches: ["A_1"], misses: ["a"] },
  { pattern: "^\\d+$", matches: ["2024"], misses: ["٢٠٢٤"] },
  { pattern: "^\\w+$", matches: ["a_1"], misses: ["é"] },
  { pattern: "a\\sb", matches: ["a b", "a\tb"], misses: ["a\vb"] },
  { pattern: "\\bcache\\b", matches: ["my cache/x"], misses: ["mycache"] },
  // Literal text, anchors of the whole text, escapes.
  { pattern: "\\Qa.b(c)\\E$", matches: ["xa.b(c)"], misses: ["xaxb(c)"] },
  { pattern: "^\\Q*+?\\E", matches: ["*+?x"], misses: ["x*+?"] },
  { pattern: "\\Atmp/", matches: ["tmp/x"], misses: ["a/tmp/x"] },
  { pattern: "\\.log\\z", matches: ["a.log"], misses: ["a.log.1", "a.log\n"] },
  { pattern: "\\.log$", matches: ["a.log"], misses: ["a.log\n"] },
  { pattern: "a\\_b\\#\\-\\~", matches: ["a_b#-~"], misses: ["ab#-~"] },
  { pattern: "^\\101\\x42\\x{43}$", matches: ["ABC"], misses: ["abc"] },
  { pattern: "\\x{1F600}", matches: ["😀.png"], misses: ["😃.png"] },
  // Go matches code points, so an emoji is one character.
  { pattern: "^.$", matches: ["😀"], misses: ["ab"] },
  // Classes: "]" first is a literal.
  { pattern: "[]a]", matches: ["]"], misses: ["b"] },
  { pattern: "^[^]a]$", matches: ["b"], misses: ["]", "a"] },
  // Groups and repetition counts.
  { pattern: "(?P<ext>\\.\\w+)$", matches: ["a.txt"], misses: ["a."] },
  { pattern: "(?<ext>\\.\\w+)$", matches: ["a.txt"], misses: ["a."] },
  { pattern: "^(?:ab)+c", matches: ["ababc"], misses: ["abac"] },
  { pattern: "^a{2}$", matches: ["aa"], misses: ["aaa"] },
  { pattern: "^a{2,}$", matches: ["aaaa"], misses: ["a"] },
  { pattern: "a{0}b", matches: ["b"], misses: ["c"] },
];

Deno.test("compileGoRegExp() matches as Go does, across a corpus of Go patterns", () => {
  for (const { pattern, matches, misses } of CORPUS) {
    const re = compileGoRegExp(pattern);
    for (const path of matches) assert.ok(re.test(path), `${pattern} should match ${path}`);
    for (const path of misses) assert.ok(!re.test(path), `${pattern} should not match ${path}`);
  }
});

Deno.test("compileGoRegExp() keeps the pattern as written", () => {
  const re = compileGoRegExp("(?i)\\.jpe?g$");
  assert.equal(re.source, "(?i)\\.jpe?g$");
  assert.equal(String(re), "(?i)\\.jpe?g$");
});

Deno.test("compileGoRegExp() refuses what Go refuses, with Go's cause alone", () => {
  const refused: [string, string][] = [
    ["(a)\\1", "invalid escape sequence: `\\1`"], // no backreferences
    ["x(?=y)", "invalid or unsupported Perl syntax: `(?=`"], // no lookahead
    ["x(?!y)", "invalid or unsupported Perl syntax: `(?!`"],
    ["(?<=a)b", "invalid named capture: `(?<=a)b`"], // no lookbehind
    ["a\\Z", "invalid escape sequence: `\\Z`"], // Perl's \Z; Go has \z
    ["a**", "invalid nested repetition operator: `**`"],
    ["a{1001}", "invalid repeat count: `{1001}`"], // at most 1000
    ["[[:foo:]]", "invalid character class range: `[:foo:]`"],
    ["\\p{Foo}", "invalid character class range: `\\p{Foo}`"],
    ["(?P<n>a)(?P<n>b)", "duplicate capture group name: `n`"],
    ["(", "missing closing ): `(`"],
    ["a{2,1}", "invalid repeat count: `{2,1}`"],
    ["(?z)a", "invalid or unsupported Perl syntax: `(?z`"],
  ];
  for (const [pattern, message] of refused) {
    assert.throws(() => compileGoRegExp(pattern), { name: "SyntaxError", message }, pattern);
  }
});

Deno.test("resolveConfig() refuses a pattern Go refuses, naming the field", () => {
  const sites = [{
    local_path: absolutePath("/data"),
    bucket: "b",
    exclusions: ["\\.tmp$", "(a)\\1"],
  }];
  assert.throws(() => resolveConfig({ sites }, {}, 4), {
    name: "ConfigError",
    message: 'sites[0].exclusions[1]: invalid regular expression "(a)\\\\1": ' +
      "invalid escape sequence: `\\1`",
  });
  const lookahead = [{ local_path: absolutePath("/data"), bucket: "b", inclusions: ["x(?=y)"] }];
  assert.throws(() => resolveConfig({ sites: lookahead }, {}, 4), {
    name: "ConfigError",
    message: /^sites\[0\]\.inclusions\[0\]: invalid regular expression "x\(\?=y\)": /,
  });
});
