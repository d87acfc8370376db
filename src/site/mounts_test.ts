import assert from "node:assert/strict";
import { parseFstab, parseMountInfo, pointsUnder, unmounted } from "./mounts.ts";

Deno.test("parseMountInfo() reads each mount point, spaces unescaped", () => {
  const text = "22 27 0:21 / /proc rw,relatime - proc proc rw\n" +
    "90 27 8:17 / /srv/data/my\\040disk rw - ext4 /dev/sdb1 rw\n";
  assert.deepEqual(parseMountInfo(text), ["/proc", "/srv/data/my disk"]);
});

Deno.test("parseFstab() reads the mount points, leaving out comments and swap", () => {
  const text = "# <fs> <point> <type>\nUUID=1 / ext4 defaults 0 1\n" +
    "/dev/sdb1\t/srv/data/photos  ext4 nofail 0 2\n/swapfile none swap sw 0 0\n\n";
  assert.deepEqual(parseFstab(text), ["/", "/srv/data/photos"]);
});

Deno.test("pointsUnder() keeps the points strictly inside the root, relative to it", () => {
  const points = ["/srv/data", "/srv/data/photos", "/srv/data/a/b/", "/srv/database", "/proc"];
  assert.deepEqual(pointsUnder("/srv/data", points), ["a/b", "photos"]);
  assert.deepEqual(pointsUnder("/", ["/", "/mnt/x"]), ["mnt/x"]);
});

Deno.test("unmounted() finds the empty folders on their parent's device, and only those", async () => {
  const folders: Record<string, { dev: number; empty: boolean }> = {
    "/r": { dev: 1, empty: false },
    "/r/gone": { dev: 1, empty: true }, // unmounted: the parent's device, empty
    "/r/mounted": { dev: 2, empty: false }, // a disk of its own
    "/r/emptydisk": { dev: 3, empty: true }, // mounted, just empty
    "/r/copied": { dev: 1, empty: false }, // files on the parent's device: left to the cap
    "/r/a": { dev: 1, empty: false },
    "/r/a/deep": { dev: 1, empty: true },
  };
  // On Windows joinLocal() joins with backslashes; the folders here are named with "/".
  const look = (path: string) => Promise.resolve(folders[path.replaceAll("\\", "/")]);
  const rels = ["gone", "mounted", "emptydisk", "copied", "missing", "a/deep"];
  assert.deepEqual(await unmounted("/r", rels, look), ["gone", "a/deep"]);
});
