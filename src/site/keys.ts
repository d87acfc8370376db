/**
 * Where a local path goes in the bucket and back, and which paths a site syncs. The mapping is exact
 * (prefix plus "/"), never a string replace, so a site at `data` never sees `data2/...`.
 * @module
 */

import type { SiteConfig } from "../config/types.ts";

export class KeyMap {
  readonly prefix: string;

  constructor(bucketPath: string) {
    this.prefix = bucketPath ? `${bucketPath}/` : "";
  }

  keyOf(rel: string): string {
    return this.prefix + rel;
  }

  /**
   * The relative path a key stands for, or undefined when it is outside the site or cannot be a
   * file there ("folder/" markers, empty or dot segments): such keys are never touched.
   */
  relOf(key: string): string | undefined {
    if (!key.startsWith(this.prefix)) return undefined;
    const rel = key.slice(this.prefix.length);
    if (rel === "") return undefined;
    for (const segment of rel.split("/")) {
      if (segment === "" || segment === "." || segment === "..") return undefined;
    }
    return rel;
  }
}

/** True when `rel` is under the directory `dir` ("" is the root, which holds everything). */
export function isUnder(rel: string, dir: string): boolean {
  return dir === "" || rel.startsWith(`${dir}/`);
}

/** Inclusions select, exclusions win; both see the path relative to local_path with "/". */
export function isIncluded(
  site: Pick<SiteConfig, "inclusions" | "exclusions">,
  rel: string,
): boolean {
  return site.inclusions.some((re) => re.test(rel)) && !site.exclusions.some((re) => re.test(rel));
}
