import assert from "node:assert/strict";
import { compileGoRegExp } from "./regex.ts";

Deno.test("compileGoRegExp() keeps common patterns as they are, with the u flag", () => {
  for (const pattern of [".[Dd][Ss]_[Ss]tore", "[Tt]humbs.db", "\\.tmp$", "^cache/", ".*"]) {
    const re = compileGoRegExp(pattern);
    assert.equal(re.source, new RegExp(pattern, "u").source);
    assert.equal(re.flags, "u");
  }
});

Deno.test("compileGoRegExp() turns leading Go flag groups into flags", () => {
  assert.equal(compileGoRegExp("(?i)abc").flags, "iu");
  assert.equal(compileGoRegExp("(?ism)a.c").flags, "imsu");
  assert.ok(compileGoRegExp("(?i)\\.JPG$").test("x.jpg"));
  assert.ok(compileGoRegExp("(?s)a.b").test("a\nb"));
  assert.throws(() => compileGoRegExp("(?U)a+"), {
    name: "SyntaxError",
    message: 'unsupported flag "U" in "(?U)"',
  });
});

Deno.test("compileGoRegExp() translates Go-only syntax", () => {
  assert.equal(compileGoRegExp("(?P<ext>\\.\\w+)$").exec("a.txt")?.groups?.ext, ".txt");
  assert.ok(
    compileGoRegExp("\\Atmp/").test("tmp/x") && !compileGoRegExp("\\Atmp/").test("a/tmp/x"),
  );
  assert.ok(
    compileGoRegExp("\\.log\\z").test("a.log") && !compileGoRegExp("\\.log\\z").test("a.log.1"),
  );
  assert.ok(
    compileGoRegExp("\\Qa.b(c)\\E$").test("xa.b(c)") && !compileGoRegExp("\\Qa.b\\E").test("axb"),
  );
  assert.ok(compileGoRegExp("\\pL+").test("é"));
  // Go allows "\" before any punctuation; Unicode-mode JS does not, so these must still compile.
  assert.ok(compileGoRegExp("a\\_b\\ c\\#\\-").test("a_b c#-"));
  assert.ok(compileGoRegExp("[\\_\\-]").test("-") && !compileGoRegExp("[\\_\\-]").test("a"));
});

Deno.test("compileGoRegExp() translates POSIX classes and a leading ] in a class", () => {
  const re = compileGoRegExp("^[[:alpha:]_][[:alnum:][:punct:]]*[[:space:]]?$");
  assert.ok(re.test("_a1!/[ ") && !re.test("1a") && !re.test("é"));
  assert.ok(
    compileGoRegExp("[^[:digit:]]").test("a") && !compileGoRegExp("^[^[:digit:]]$").test("1"),
  );
  assert.ok(compileGoRegExp("[]a]").test("]") && compileGoRegExp("[^]a]").test("b"));
  assert.ok(!compileGoRegExp("^[^]a]$").test("]"));
});

Deno.test("compileGoRegExp() gives the cause alone when a pattern is invalid", () => {
  assert.throws(() => compileGoRegExp("("), { name: "SyntaxError", message: "Unterminated group" });
  assert.throws(() => compileGoRegExp("a{2,1}"), {
    name: "SyntaxError",
    message: /^numbers out of order/,
  });
});

Deno.test("compileGoRegExp() refuses nested repetition, which can take exponential time", () => {
  for (const pattern of ["(a+)+$", "(.*x)*", "((ab)*c)+", "(a{2,})+", "(x+|y)*"]) {
    assert.throws(() => compileGoRegExp(pattern), /can take exponential time/, pattern);
  }
  for (
    const pattern of ["(ab)+", "(a|b)*c+", "[(a+)]+", "\\(a+\\)+", "(a+)?", "(a+){2}", "^cache/.*"]
  ) {
    compileGoRegExp(pattern);
  }
});
