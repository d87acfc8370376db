/**
 * Paths for the config tests, which run on Linux, macOS and Windows (see smoke.yml). `local_path`
 * and `state_dir` must be absolute by the platform's rules (src/lib/local_paths.ts), and "/data"
 * is not absolute on Windows.
 */

/** Whether the tests run on Windows. */
export const WINDOWS = Deno.build.os === "windows";

/**
 * `posixPath` as an absolute path of this platform: "/data" itself on POSIX, "C:\data" on Windows.
 * The spelling is kept ("/a//b/../c/" becomes "C:\a\\b\..\c\"), so normalisation is still tested.
 */
export function absolutePath(posixPath: string): string {
  return WINDOWS ? `C:${posixPath.replaceAll("/", "\\")}` : posixPath;
}

/** The rule a relative `local_path` or `state_dir` breaks, with this platform's example. */
export const ABSOLUTE_RULE = `must be an absolute path (like ${
  WINDOWS ? "C:\\data or \\\\server\\share\\data" : "/data"
})`;

/** `posixPath` made absolute (see `absolutePath`), quoted for YAML so that "\" stays as written. */
export function yamlPath(posixPath: string): string {
  return `'${absolutePath(posixPath)}'`;
}
