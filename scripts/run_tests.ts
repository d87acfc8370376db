// deno-lint-ignore-file no-console -- a command-line tool that reports to its user
/**
 * `deno task test`: provides an S3 server (see s3env.ts), runs every test against it, stops it, and
 * ends with one line `N passed, N failed`. Extra arguments go to `deno test` (a file, `--filter`).
 * @module
 */

import { provideS3, s3EnvVars } from "./s3env.ts";

// Only src/ and tests/ hold tests; a bare `deno test` would also take this file (test.ts) for one.
const namesFiles = Deno.args.some((arg) => arg.endsWith(".ts") || arg.endsWith("/"));
const s3 = await provideS3();
let code = 1;
try {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "test",
      "--allow-all",
      "--parallel",
      ...Deno.args,
      ...(namesFiles ? [] : ["src/", "tests/"]),
    ],
    // No colours, so that the summary below can be read from the output.
    env: { ...s3EnvVars(s3), DENO_JOBS: Deno.env.get("DENO_JOBS") ?? "4", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let tail = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    Deno.stdout.writeSync(chunk);
    tail = (tail + decoder.decode(chunk, { stream: true })).slice(-4096);
  }
  code = (await child.status).code;
  // Deno's own summary ("ok | 12 passed (3 steps) | 0 failed") is not what CI reads.
  const summaries = [...tail.matchAll(/(\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/g)];
  const last = summaries.at(-1);
  const passed = last ? Number(last[1]) : 0;
  const failed = last ? Number(last[2]) : (code === 0 ? 0 : 1);
  if (code !== 0 && failed === 0) {
    console.log(`deno test exited with code ${code}`);
  }
  console.log(`${passed} passed, ${code !== 0 && failed === 0 ? 1 : failed} failed`);
} finally {
  await s3.stop();
}
Deno.exit(code);
