import assert from "node:assert/strict";
import { resolveConfig } from "./resolve.ts";
import { readFollowSymlinks } from "./check.ts";
import type { SiteConfig } from "./types.ts";
import { ABSOLUTE_RULE, absolutePath } from "./test_support.ts";

const SITE = { local_path: absolutePath("/data"), bucket: "b" };
const sites = (...list: unknown[]) => resolveConfig({ sites: list }, {}, 4).config.sites;
const site = (extra: Record<string, unknown>): SiteConfig => {
  const [first] = sites({ ...SITE, ...extra });
  assert.ok(first);
  return first;
};
const fails = (extra: Record<string, unknown>, message: string | RegExp) =>
  assert.throws(() => sites({ ...SITE, ...extra }), { name: "ConfigError", message });

Deno.test("resolveSite() fills every site default", () => {
  const s = site({});
  assert.equal(s.name, "b");
  assert.equal(s.localPath, absolutePath("/data"));
  assert.equal(s.endpoint, undefined);
  assert.equal(s.bucketPath, "");
  assert.equal(s.retireDeleted, false);
  assert.equal(s.storageClass, "STANDARD");
  assert.deepEqual(s.exclusions, []);
  assert.deepEqual(s.inclusions.map(String), [".*"]);
});

Deno.test("resolveSite() names a site bucket/bucket_path unless name is set", () => {
  assert.equal(site({ bucket_path: "/backups/db/" }).name, "b/backups/db");
  assert.equal(site({ name: "photos" }).name, "photos");
  assert.equal(site({ name: "" }).name, "b");
});

Deno.test("resolveSite() lets a site override the global settings", () => {
  const [s] = resolveConfig(
    {
      watch_interval: "5s",
      s3_ops_retries: 3,
      reconcile_interval: "2h",
      aws_region: "eu-west-1",
      sites: [{
        ...SITE,
        watch_interval: "250ms",
        s3_ops_retries: 7,
        reconcile_interval: "0",
        bucket_region: "us-west-1",
        retire_deleted: true,
        storage_class: "standard_ia",
      }, { ...SITE, bucket: "other" }],
    },
    {},
    4,
  ).config.sites;
  assert.equal(s?.watchIntervalMs, 250);
  assert.equal(s?.s3OpsRetries, 7);
  assert.equal(s?.reconcileIntervalMs, 0);
  assert.equal(s?.bucketRegion, "us-west-1");
  assert.equal(s?.retireDeleted, true);
  assert.equal(s?.storageClass, "STANDARD_IA");
});

Deno.test("resolveSite() normalises local_path and requires it absolute", () => {
  const normal = (path: string) => site({ local_path: absolutePath(path) }).localPath;
  assert.equal(normal("/data/"), absolutePath("/data"));
  assert.equal(normal("/srv//a/./b/../c/"), absolutePath("/srv/a/c"));
  assert.equal(normal("/"), absolutePath("/"));
  fails({ local_path: undefined }, "sites[0].local_path: required (the folder to sync)");
  assert.throws(() => sites(SITE, { ...SITE, bucket: "c", local_path: "data" }), {
    message: `sites[1].local_path: ${ABSOLUTE_RULE}, got "data"`,
  });
});

Deno.test("resolveSite() normalises endpoint into a URL", () => {
  assert.equal(site({ endpoint: "minio.local:9000" }).endpoint, "https://minio.local:9000");
  assert.equal(site({ endpoint: "http://127.0.0.1:9000/" }).endpoint, "http://127.0.0.1:9000");
  assert.equal(site({ endpoint: "HTTPS://S3.Example.com" }).endpoint, "https://s3.example.com");
  assert.equal(site({ endpoint: "https://host/prefix/" }).endpoint, "https://host/prefix");
  assert.equal(site({ endpoint: "" }).endpoint, undefined);
  fails({ endpoint: "ftp://host" }, 'sites[0].endpoint: must use http or https, got "ftp://host"');
  fails(
    { endpoint: "http://a b" },
    'sites[0].endpoint: must be a host name or an http(s) URL, got "http://a b"',
  );
  fails(
    { endpoint: "https://AKIA:topsecret@host" },
    "sites[0].endpoint: must not contain credentials (use access_key and secret_access_key)",
  );
});

Deno.test("resolveSite() checks bucket", () => {
  fails({ bucket: undefined }, "sites[0].bucket: required (the bucket to sync to)");
  fails({ bucket: "" }, "sites[0].bucket: required (the bucket to sync to)");
  fails(
    { bucket: "b/photos" },
    'sites[0].bucket: must be a bucket name without "/", got "b/photos" ' +
      "(put the prefix in bucket_path)",
  );
  fails({ bucket: 42 }, "sites[0].bucket: must be a string, got 42 (put it in quotes)");
});

Deno.test("resolveSite() normalises bucket_path and rejects odd segments", () => {
  assert.equal(site({ bucket_path: "/a/b/" }).bucketPath, "a/b");
  assert.equal(site({ bucket_path: "/" }).bucketPath, "");
  assert.equal(site({ bucket_path: "" }).bucketPath, "");
  fails(
    { bucket_path: "a//b" },
    'sites[0].bucket_path: must not contain empty segments ("//"), got "a//b"',
  );
  fails(
    { bucket_path: "a/../b" },
    'sites[0].bucket_path: must not contain "." or ".." segments, got "a/../b"',
  );
});

Deno.test("resolveSite() checks retire_deleted, storage_class and name types", () => {
  fails({ retire_deleted: "yes" }, 'sites[0].retire_deleted: must be true or false, got "yes"');
  fails({ storage_class: "COLD" }, /^sites\[0\]\.storage_class: must be one of "STANDARD", /);
  assert.throws(() => sites({ ...SITE, storage_class: "COLD" }), {
    message: /"GLACIER", .*"EXPRESS_ONEZONE", got "COLD"$/,
  });
  fails({ name: ["x"] }, 'sites[0].name: must be a string, got ["x"]');
  fails(
    { watch_interval: "1d" },
    /^sites\[0\]\.watch_interval: invalid duration "1d": unknown unit/,
  );
  fails(
    { s3_ops_retries: 1.5 },
    "sites[0].s3_ops_retries: must be an integer from 1 to 100, got 1.5",
  );
});

Deno.test("resolveSite() compiles exclusions and inclusions written for Go", () => {
  const s = site({
    exclusions: [".[Dd][Ss]_[Ss]tore", "[Tt]humbs.db", "\\.tmp$", "^cache/"],
    inclusions: ["(?i)\\.JPG$"],
  });
  const excluded = (path: string) => s.exclusions.some((re) => re.test(path));
  assert.ok(excluded("a/.DS_Store") && excluded("Thumbs.db") && excluded("x.tmp"));
  assert.ok(excluded("cache/x") && !excluded("a/cache/x") && !excluded("x.tmp.txt"));
  assert.ok(s.inclusions[0]?.test("a/b.jpg"));
});

Deno.test("resolveSite() rejects bad patterns naming the element", () => {
  fails(
    { exclusions: ["a", "b", "("] },
    'sites[0].exclusions[2]: invalid regular expression "(": missing closing ): `(`',
  );
  fails(
    { exclusions: "\\.tmp$" },
    'sites[0].exclusions: must be a list of regular expressions, got "\\\\.tmp$"',
  );
  fails({ inclusions: [1] }, "sites[0].inclusions[0]: must be a string, got 1");
});

Deno.test("resolveConfig() warns when inclusions is an empty list", () => {
  const { warnings } = resolveConfig({ sites: [{ ...SITE, inclusions: [] }] }, {}, 4);
  assert.deepEqual(warnings, ["sites[0].inclusions: empty list, no file will be synced"]);
});

Deno.test("checkSites() rejects duplicate names", () => {
  assert.throws(() => sites({ ...SITE, name: "x" }, { ...SITE, bucket: "c", name: "x" }), {
    message: 'sites[1].name: "x" is already the name of sites[0]; names must be unique because ' +
      'metrics and logs are keyed by them (set "name" on one of them)',
  });
});

Deno.test("checkSites() rejects overlapping targets", () => {
  const one = { ...SITE, name: "one", bucket_path: "data" };
  assert.throws(() => sites(one, { ...SITE, name: "two", bucket_path: "data/x" }), {
    message: 'sites[1]: "two" overlaps sites[0] ("one"): both sync to bucket "b" at "data/x" and ' +
      '"data" on the same endpoint, so each would treat the other\'s objects as its own and ' +
      "could overwrite or delete them",
  });
  assert.throws(() => sites(one, { ...SITE, name: "two" }), {
    message: /at the whole bucket and "data"/,
  });
  assert.throws(() => sites(one, { ...SITE, name: "two", bucket_path: "/data/" }), {
    message: /both sync to bucket "b" at "data" on the same endpoint/,
  });
  const minio = { endpoint: "minio:9000" };
  assert.throws(
    () =>
      sites({ ...one, ...minio }, {
        ...SITE,
        ...minio,
        name: "two",
        endpoint: "https://minio:9000/",
      }),
    {
      message: /overlaps/,
    },
  );
});

Deno.test("checkSites() accepts targets that only share a prefix of characters", () => {
  const one = { ...SITE, name: "one", bucket_path: "data" };
  assert.equal(sites(one, { ...SITE, name: "two", bucket_path: "data2" }).length, 2);
  assert.equal(sites(one, { ...SITE, name: "two", bucket: "c", bucket_path: "data" }).length, 2);
  assert.equal(sites(one, { ...one, name: "two", endpoint: "http://minio:9000" }).length, 2);
});

Deno.test("resolveSite() refuses inclusions: [] with retire_deleted: true", () => {
  fails(
    { inclusions: [], retire_deleted: true },
    "sites[0].inclusions: an empty list with retire_deleted: true would delete every object " +
      "under the prefix; list what to sync, or leave inclusions out to sync everything",
  );
  // Left out or null, inclusions is every file, which is safe with retire_deleted.
  assert.equal(site({ retire_deleted: true }).inclusions.length, 1);
  assert.equal(site({ inclusions: null, retire_deleted: true }).inclusions.length, 1);
  // Without retire_deleted an empty list only warns, as nothing is deleted.
  const { warnings } = resolveConfig(
    { sites: [{ ...SITE, inclusions: [], retire_deleted: false }] },
    {},
    4,
  );
  assert.deepEqual(warnings, ["sites[0].inclusions: empty list, no file will be synced"]);
});

Deno.test("checkSites() leaves out a site with a mistake of its own", () => {
  // sites[1] would overlap sites[0], but its bucket_path is not what the user meant: only its
  // own mistake is reported.
  assert.throws(() => sites(SITE, { ...SITE, name: "two", bucket_path: "a//b" }), {
    message: 'sites[1].bucket_path: must not contain empty segments ("//"), got "a//b"',
  });
});

Deno.test("checkSites() reports every duplicate name and overlap", () => {
  assert.throws(
    () =>
      sites(
        { ...SITE, name: "x", bucket_path: "a" },
        { ...SITE, name: "x", bucket_path: "c" },
        { ...SITE, name: "y", bucket_path: "a/b" },
      ),
    {
      message:
        /^2 errors in the config:\n {2}sites\[1\]\.name: "x" is already .*\n {2}sites\[2\]: "y" overlaps sites\[0\] \("x"\)/,
    },
  );
});

Deno.test("resolveSite() reads acl: none by default, global, then the site's own", () => {
  assert.equal(site({}).acl, undefined);
  assert.equal(site({ acl: "Public-Read" }).acl, "public-read");
  const [a, b] = resolveConfig(
    {
      acl: "bucket-owner-full-control",
      sites: [{ ...SITE, bucket: "a" }, { ...SITE, bucket: "b", acl: "private" }],
    },
    {},
    4,
  ).config.sites;
  assert.equal(a?.acl, "bucket-owner-full-control");
  assert.equal(b?.acl, "private");
});

Deno.test("resolveSite() refuses an acl that is not a canned ACL, and lists them", () => {
  fails(
    { acl: "public" },
    'sites[0].acl: must be a canned ACL, one of "private", "public-read", "public-read-write", ' +
      '"authenticated-read", "aws-exec-read", "bucket-owner-read", "bucket-owner-full-control", ' +
      'got "public"',
  );
  fails({ acl: true }, "sites[0].acl: must be a string, got true (put it in quotes)");
  assert.throws(() => resolveConfig({ acl: "everyone", sites: [SITE] }, {}, 4), {
    name: "ConfigError",
    message: /^acl: must be a canned ACL, one of "private", .*, got "everyone"$/,
  });
});

Deno.test("resolveSite() reads store_mtime: true by default, global, then the site's own", () => {
  assert.equal(site({}).storeMtime, true);
  assert.equal(site({ store_mtime: false }).storeMtime, false);
  const [a, b] = resolveConfig(
    {
      store_mtime: false,
      sites: [{ ...SITE, bucket: "a" }, { ...SITE, bucket: "b", store_mtime: true }],
    },
    {},
    4,
  ).config.sites;
  assert.equal(a?.storeMtime, false);
  assert.equal(b?.storeMtime, true);
  fails({ store_mtime: "no" }, 'sites[0].store_mtime: must be true or false, got "no"');
  assert.throws(() => resolveConfig({ store_mtime: 1, sites: [SITE] }, {}, 4), {
    name: "ConfigError",
    message: "store_mtime: must be true or false, got 1",
  });
});

Deno.test("follow_symlinks takes true, false or any, and is refused on Windows", () => {
  assert.equal(readFollowSymlinks(undefined, "f", "linux"), undefined);
  assert.equal(readFollowSymlinks(false, "f", "windows"), false);
  assert.equal(readFollowSymlinks("ANY", "f", "darwin"), "any");
  assert.throws(() => readFollowSymlinks("yes", "f", "linux"), {
    message: 'f: must be true, false or "any", got "yes"',
  });
  assert.throws(() => readFollowSymlinks(true, "f", "windows"), {
    message: "f: is not supported on Windows yet (links there are skipped)",
  });
});
