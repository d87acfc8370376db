import assert from "node:assert/strict";
import { Moves } from "./moves.ts";

Deno.test("Moves finds the old path of a renamed file, or of a file in a renamed folder", () => {
  const moves = new Moves(60_000);
  moves.note("dir", "dir2");
  moves.note("a.txt", "dir2/a.txt");
  assert.deepEqual(moves.sourcesFor("dir2/a.txt"), ["a.txt", "dir/a.txt"]);
  assert.deepEqual(moves.sourcesFor("dir2/sub/b.txt"), ["dir/sub/b.txt"]);
  assert.deepEqual(moves.sourcesFor("other.txt"), []);
  assert.equal(moves.isSource("dir/sub/b.txt"), true);
  assert.equal(moves.isSource("a.txt"), true);
  moves.done("dir2/a.txt");
  assert.equal(moves.isSource("a.txt"), false);
  assert.equal(moves.isSource("dirt.txt"), false);
});

Deno.test("Moves forgets a move after its lifetime", () => {
  const moves = new Moves(-1);
  moves.note("a", "b");
  assert.deepEqual(moves.sourcesFor("b"), []);
  assert.equal(moves.isSource("a"), false);
});

Deno.test("Moves reads a new path under a folder's old name as under its new name", () => {
  const moves = new Moves(60_000);
  moves.note("dir", "dir2");
  assert.equal(moves.note("a.txt", "dir/a.txt"), "dir2/a.txt");
  assert.deepEqual(moves.sourcesFor("dir2/a.txt"), ["a.txt", "dir/a.txt"]);
  assert.equal(moves.current("dirt/b.txt"), "dirt/b.txt");
});
