/**
 * Checks between sites: unique names and disjoint S3 targets. Two sites writing under the same
 * prefix would each see the other's objects as stray remote files and, with retire_deleted, delete
 * them.
 * @module
 */

import { ConfigError } from "../lib/errors.ts";
import type { SiteConfig } from "./types.ts";

/** Throws a `ConfigError` for the first duplicate name or overlapping pair of targets. */
export function checkSites(sites: readonly SiteConfig[]): void {
  const byName = new Map<string, number>();
  sites.forEach((site, i) => {
    const first = byName.get(site.name);
    if (first !== undefined) {
      throw new ConfigError(
        `sites[${i}].name`,
        `${
          JSON.stringify(site.name)
        } is already the name of sites[${first}]; names must be unique because ` +
          `metrics and logs are keyed by them (set "name" on one of them)`,
      );
    }
    byName.set(site.name, i);
  });

  sites.forEach((site, i) => {
    sites.slice(0, i).forEach((other, j) => {
      if (!overlaps(site, other)) return;
      throw new ConfigError(
        `sites[${i}]`,
        `${JSON.stringify(site.name)} overlaps sites[${j}] (${JSON.stringify(other.name)}): ` +
          `both sync to bucket ${JSON.stringify(site.bucket)} ` +
          `${where(site, other)} on the same endpoint, so each would treat the other's objects ` +
          `as its own and could overwrite or delete them`,
      );
    });
  });
}

function overlaps(a: SiteConfig, b: SiteConfig): boolean {
  // undefined means AWS itself, which compares equal to another undefined.
  return a.endpoint === b.endpoint && a.bucket === b.bucket &&
    (within(a.bucketPath, b.bucketPath) || within(b.bucketPath, a.bucketPath));
}

/** Whether `inner` is `outer` or below it, by whole segments: "data2" is not inside "data". */
function within(inner: string, outer: string): boolean {
  return outer === "" || inner === outer || inner.startsWith(`${outer}/`);
}

function where(site: SiteConfig, other: SiteConfig): string {
  const show = (p: string) => (p === "" ? "the whole bucket" : JSON.stringify(p));
  if (site.bucketPath === other.bucketPath) return `at ${show(site.bucketPath)}`;
  return `at ${show(site.bucketPath)} and ${show(other.bucketPath)}`;
}
