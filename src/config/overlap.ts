/**
 * Checks between sites: unique names and disjoint S3 targets. Two sites writing under the same
 * prefix would each see the other's objects as stray remote files and, with retire_deleted, delete
 * them.
 * @module
 */

import { ConfigError } from "../lib/errors.ts";
import type { SiteConfig } from "./types.ts";

/**
 * The duplicate names, then the overlapping targets, each reported once per later site of a
 * pair. `sites` is indexed as the config's list; undefined stands for a site that had a mistake
 * of its own, which is left out since its values are not what the user meant.
 */
export function checkSites(sites: readonly (SiteConfig | undefined)[]): ConfigError[] {
  const errors: ConfigError[] = [];
  const byName = new Map<string, number>();
  sites.forEach((site, i) => {
    if (site === undefined) return;
    const first = byName.get(site.name);
    if (first !== undefined) {
      errors.push(
        new ConfigError(
          `sites[${i}].name`,
          `${
            JSON.stringify(site.name)
          } is already the name of sites[${first}]; names must be unique because ` +
            `metrics and logs are keyed by them (set "name" on one of them)`,
        ),
      );
    } else byName.set(site.name, i);
  });

  sites.forEach((site, i) => {
    if (site === undefined) return;
    const j = sites.slice(0, i).findIndex((other) => other !== undefined && overlaps(site, other));
    const other = sites[j];
    if (other === undefined) return;
    errors.push(
      new ConfigError(
        `sites[${i}]`,
        `${JSON.stringify(site.name)} overlaps sites[${j}] (${JSON.stringify(other.name)}): ` +
          `both sync to bucket ${JSON.stringify(site.bucket)} ` +
          `${where(site, other)} on the same endpoint, so each would treat the other's objects ` +
          `as its own and could overwrite or delete them`,
      ),
    );
  });
  return errors;
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
