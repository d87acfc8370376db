/**
 * The S3 server that tests, the benchmark and the demo run against: the one the environment names
 * (S3SYNC_TEST_ENDPOINT and keys, for MinIO or real S3), or a local Ceph RGW started here with
 * `scripts/rgw.sh`, stopped again by `stop()`.
 * @module
 */

export interface S3Env {
  readonly endpoint: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly region: string;
  /** Stops the server if this process started it. */
  stop(): Promise<void>;
}

export const ENV_NAMES = {
  endpoint: "S3SYNC_TEST_ENDPOINT",
  accessKey: "S3SYNC_TEST_ACCESS_KEY",
  secretKey: "S3SYNC_TEST_SECRET_KEY",
  region: "S3SYNC_TEST_REGION",
} as const;

const RGW_SCRIPT = new URL("./rgw.sh", import.meta.url).pathname;

/** The environment's server if it names one, otherwise a fresh local RGW. */
export async function provideS3(): Promise<S3Env> {
  const endpoint = Deno.env.get(ENV_NAMES.endpoint);
  if (endpoint) {
    const accessKey = Deno.env.get(ENV_NAMES.accessKey);
    const secretKey = Deno.env.get(ENV_NAMES.secretKey);
    if (!accessKey || !secretKey) {
      throw new Error(
        `${ENV_NAMES.endpoint} is set, so ${ENV_NAMES.accessKey} and ${ENV_NAMES.secretKey} must be too`,
      );
    }
    const region = Deno.env.get(ENV_NAMES.region) ?? "us-east-1";
    return { endpoint, accessKey, secretKey, region, stop: () => Promise.resolve() };
  }
  return await startRgw();
}

export async function startRgw(): Promise<S3Env> {
  const out = await new Deno.Command("bash", {
    args: [RGW_SCRIPT, "start"],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`Cannot start the test S3 server: ${RGW_SCRIPT} start failed`);
  const values = new Map<string, string>();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const need = (name: string): string => {
    const value = values.get(name);
    if (!value) throw new Error(`${RGW_SCRIPT} start did not print ${name}`);
    return value;
  };
  const dir = need("RGW_DIR");
  return {
    endpoint: need("S3_ENDPOINT"),
    accessKey: need("AWS_ACCESS_KEY_ID"),
    secretKey: need("AWS_SECRET_ACCESS_KEY"),
    region: values.get("AWS_REGION") ?? "us-east-1",
    stop: async () => {
      await new Deno.Command("bash", { args: [RGW_SCRIPT, "stop", dir] }).output();
    },
  };
}

/** The variables that hand the server to a child process (the test runner's `deno test`). */
export function s3EnvVars(s3: S3Env): Record<string, string> {
  return {
    [ENV_NAMES.endpoint]: s3.endpoint,
    [ENV_NAMES.accessKey]: s3.accessKey,
    [ENV_NAMES.secretKey]: s3.secretKey,
    [ENV_NAMES.region]: s3.region,
  };
}
