/**
 * How this process reaches the Kubernetes API from inside a pod: the address kubelet puts in the
 * environment, and the service-account token and CA it mounts. The token goes into the
 * Authorization header and nowhere else: no message, log line or error carries it.
 * @module
 */

import { STATUS_CODES } from "node:http";
import { join } from "node:path";
import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface ClusterAccess {
  /** `https://host:port`, IPv6 hosts bracketed. */
  readonly apiUrl: string;
  readonly token: string;
  /** PEM of the cluster CA; undefined means the system roots. */
  readonly caCert: string | undefined;
}

const ENV_VARS = ["KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"] as const;

/** Reads the in-cluster settings; throws naming the missing variable or file when not in a pod. */
export async function inClusterAccess(
  env?: Record<string, string | undefined>,
  dir: string = SERVICE_ACCOUNT_DIR,
): Promise<ClusterAccess> {
  const get = (name: string) => (env ? env[name] : Deno.env.get(name))?.trim() || undefined;
  const missing = ENV_VARS.filter((name) => !get(name));
  if (missing.length > 0) {
    throw new Error(`Not running in a Kubernetes pod: ${missing.join(" and ")} not set`);
  }
  const host = get("KUBERNETES_SERVICE_HOST") ?? "";
  const port = get("KUBERNETES_SERVICE_PORT") ?? "";
  const bracketed = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;

  const tokenPath = join(dir, "token");
  let token: string;
  try {
    token = (await Deno.readTextFile(tokenPath)).trim();
  } catch (err) {
    const hint = err instanceof Deno.errors.NotFound
      ? " (is automountServiceAccountToken disabled for this pod?)"
      : "";
    throw new Error(
      `Cannot read the service-account token "${tokenPath}": ${errorMessage(err)}${hint}`,
      { cause: err },
    );
  }
  if (!token) throw new Error(`The service-account token "${tokenPath}" is empty`);

  const caPath = join(dir, "ca.crt");
  let caCert: string | undefined;
  try {
    caCert = await Deno.readTextFile(caPath);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new Error(`Cannot read the cluster CA "${caPath}": ${errorMessage(err)}`, {
        cause: err,
      });
    }
    // client-go carries on with the system roots too; an API server with a public certificate works.
    log.warn("no cluster CA certificate, trusting the system roots", { path: caPath });
  }
  return { apiUrl: `https://${bracketed}:${port}`, token, caCert };
}

/** One HTTP client per watch or read, so the cluster CA is trusted; close it when done. */
export function createClient(access: ClusterAccess): Deno.HttpClient | undefined {
  return access.caCert ? Deno.createHttpClient({ caCerts: [access.caCert] }) : undefined;
}

export async function apiGet(
  access: ClusterAccess,
  pathAndQuery: string,
  client: Deno.HttpClient | undefined,
  signal: AbortSignal | undefined,
): Promise<Response> {
  try {
    return await fetch(`${access.apiUrl}${pathAndQuery}`, {
      headers: { Authorization: `Bearer ${access.token}`, Accept: "application/json" },
      client,
      signal,
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    // Deno's fetch says only "fetch failed"; its cause says why (refused, unknown issuer, DNS).
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : "";
    throw cause ? new Error(cause, { cause: err }) : err;
  }
}

const HINTS: Record<number, string> = {
  401: "the service-account token was rejected",
  403: 'the service account needs "get" and "watch" on configmaps',
};

/**
 * `HTTP 403 Forbidden: <the API's own message> (hint)`, consuming the body. The reason phrase comes
 * from a table because HTTP/2, which the API server speaks, has none on the wire.
 */
export async function httpFailure(response: Response): Promise<string> {
  const phrase = response.statusText || STATUS_CODES[response.status] || "";
  let detail = "";
  try {
    const status = JSON.parse(await response.text());
    if (typeof status?.message === "string" && status.message !== phrase) {
      detail = `: ${status.message.slice(0, 300)}`;
    }
  } catch {
    // Not a Status object (a proxy's HTML page, say): the code and phrase are enough.
  }
  const hint = HINTS[response.status];
  return `HTTP ${response.status} ${phrase}`.trimEnd() + detail + (hint ? ` (${hint})` : "");
}
