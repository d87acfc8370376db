import assert from "node:assert/strict";
import { posix, win32 } from "node:path";
import {
  hasStoredName,
  isInside,
  LocalPaths,
  namesIgnoreCase,
  normaliseRoot,
} from "./local_paths.ts";

Deno.test("normaliseRoot accepts each flavour's absolute forms and trims trailing separators", () => {
  assert.equal(normaliseRoot("/data/", posix), "/data");
  assert.equal(normaliseRoot("/data//photos/../docs", posix), "/data/docs");
  assert.equal(normaliseRoot("/", posix), "/");
  assert.equal(normaliseRoot("C:\\data\\", win32), "C:\\data");
  assert.equal(normaliseRoot("C:/data/photos", win32), "C:\\data\\photos");
  assert.equal(normaliseRoot("C:\\", win32), "C:\\");
  assert.equal(normaliseRoot("\\\\server\\share\\data\\", win32), "\\\\server\\share\\data");
  assert.equal(normaliseRoot("\\\\server\\share\\", win32), "\\\\server\\share\\");
  assert.equal(normaliseRoot("\\\\?\\C:\\very\\long", win32), "\\\\?\\C:\\very\\long");
});

Deno.test("normaliseRoot refuses relative paths, with an example of the flavour", () => {
  assert.throws(() => normaliseRoot("data", posix), /absolute path \(like \/data\)/);
  assert.throws(() => normaliseRoot("C:\\data", posix), /absolute/);
  assert.throws(() => normaliseRoot("data\\x", win32), /like C:\\data/);
  // Relative to drive C's current folder, not absolute.
  assert.throws(() => normaliseRoot("C:data", win32), /absolute/);
  // The current drive's root: where it lands depends on the working directory's drive.
  assert.throws(() => normaliseRoot("\\data", win32), /absolute/);
});

Deno.test("a Windows tree and a POSIX tree map to the same rel names", () => {
  const linux = new LocalPaths("/srv/data", posix);
  const windows = new LocalPaths("C:\\srv\\data", win32);
  for (const rel of ["a.txt", "photos/2024/IMG 1.JPG", "ü/ß/日本.txt", "a b/c+d&e"]) {
    assert.equal(linux.rel(linux.local(rel)), rel);
    assert.equal(windows.rel(windows.local(rel)), rel);
  }
  assert.equal(windows.local("photos/a.jpg"), "C:\\srv\\data\\photos\\a.jpg");
  assert.equal(linux.local("photos/a.jpg"), "/srv/data/photos/a.jpg");
  assert.equal(windows.local(""), "C:\\srv\\data");
});

Deno.test("on POSIX a backslash is part of a name; on Windows it separates", () => {
  assert.equal(new LocalPaths("/data", posix).rel("/data/a\\b.txt"), "a\\b.txt");
  assert.equal(new LocalPaths("/data", posix).local("a\\b.txt"), "/data/a\\b.txt");
  assert.equal(new LocalPaths("C:\\data", win32).rel("C:\\data\\a\\b.txt"), "a/b.txt");
  assert.equal(new LocalPaths("C:\\data", win32).rel("C:/data/a/b.txt"), "a/b.txt");
});

Deno.test("rel is undefined for the root itself and for paths outside it", () => {
  const linux = new LocalPaths("/data", posix);
  assert.equal(linux.rel("/data"), undefined);
  assert.equal(linux.rel("/data/"), undefined);
  assert.equal(linux.rel("/data2/a"), undefined);
  assert.equal(linux.rel("/dat"), undefined);
  assert.equal(linux.rel("/other/a"), undefined);
  const windows = new LocalPaths("C:\\data", win32);
  assert.equal(windows.rel("C:\\data"), undefined);
  assert.equal(windows.rel("C:\\data2\\a"), undefined);
  assert.equal(windows.rel("D:\\data\\a"), undefined);
});

Deno.test("a root that is itself a root folder", () => {
  assert.equal(new LocalPaths("/", posix).rel("/etc/hosts"), "etc/hosts");
  assert.equal(new LocalPaths("/", posix).local("etc/hosts"), "/etc/hosts");
  assert.equal(new LocalPaths("C:\\", win32).rel("C:\\a\\b"), "a/b");
  assert.equal(new LocalPaths("C:\\", win32).local("a/b"), "C:\\a\\b");
});

Deno.test("Windows: drive case, UNC shares and long-path prefixes name one path", () => {
  const windows = new LocalPaths("C:\\Data", win32);
  assert.equal(windows.rel("c:\\data\\Photo.JPG"), "Photo.JPG");
  assert.equal(windows.rel("\\\\?\\C:\\Data\\sub\\x.txt"), "sub/x.txt");
  const share = new LocalPaths("\\\\nas\\share\\backup", win32);
  assert.equal(share.rel("\\\\nas\\share\\backup\\a\\b.txt"), "a/b.txt");
  assert.equal(share.rel("\\\\?\\UNC\\nas\\share\\backup\\a\\b.txt"), "a/b.txt");
  assert.equal(share.local("a/b.txt"), "\\\\nas\\share\\backup\\a\\b.txt");
  const long = new LocalPaths("\\\\?\\C:\\very\\long", win32);
  assert.equal(long.local("a/b.txt"), "\\\\?\\C:\\very\\long\\a\\b.txt");
  assert.equal(long.rel("C:\\very\\long\\a\\b.txt"), "a/b.txt");
  assert.equal(long.rel("\\\\?\\C:\\very\\long\\a\\b.txt"), "a/b.txt");
});

Deno.test("case-insensitive names on macOS and Windows only", () => {
  assert.equal(namesIgnoreCase("darwin"), true);
  assert.equal(namesIgnoreCase("windows"), true);
  assert.equal(namesIgnoreCase("linux"), false);
});

Deno.test("hasStoredName() tells a case-only rename from the file itself", async () => {
  const stored = (name: string) => (path: string) =>
    Promise.resolve(win32.join(win32.dirname(path), name));
  assert.equal(await hasStoredName("C:\\d\\photo.jpg", stored("photo.jpg"), win32), true);
  assert.equal(await hasStoredName("C:\\d\\Photo.JPG", stored("photo.jpg"), win32), false);
  const real = (path: string) => Promise.resolve(path.replace("/tmp/", "/private/tmp/"));
  assert.equal(await hasStoredName("/tmp/a.txt", real, posix), true);
});

Deno.test("isInside() takes a folder and what is under it, not a sibling that shares a prefix", () => {
  assert.equal(isInside("/data/a", "/data"), true);
  assert.equal(isInside("/data", "/data"), true);
  assert.equal(isInside("/data2/a", "/data"), false);
  assert.equal(isInside("/anything", "/"), true);
});
