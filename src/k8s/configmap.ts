/**
 * Reads the service's config from a ConfigMap through the in-cluster API, and watches it for
 * changes. The watch is a long GET that streams newline-delimited JSON events; it is resumed from
 * the last resourceVersion seen whenever it ends, and restarted from a fresh read when the API says
 * that version is too old (410 Gone). The caller gets the config text only when it changed.
 * @module
 */

import { backoffDelay, sleep } from "../lib/backoff.ts";
import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { apiGet, type ClusterAccess, createClient, httpFailure } from "./access.ts";
import { type ApiObject, type EventHandler, streamEvents } from "./watch_stream.ts";

export { type ClusterAccess, inClusterAccess } from "./access.ts";

export interface ConfigMapRef {
  readonly namespace: string;
  readonly name: string;
}

export interface ConfigMapText {
  readonly text: string;
  readonly resourceVersion: string;
}

/** The Go tool's chart mounted `config.yml`; `config.yaml` and a lone key are courtesies. */
const CONFIG_KEYS = ["config.yml", "config.yaml"];
const MAX_BACKOFF_MS = 30_000;
/** The server ends each watch after this; client-go's reflector picks 5 to 10 minutes. */
const WATCH_TIMEOUT_S = 300;
/** Silence longer than this means a dead connection nobody closed (a NAT or proxy dropped it). */
const IDLE_LIMIT_MS = (WATCH_TIMEOUT_S + 60) * 1000;

const label = (ref: ConfigMapRef) => `"${ref.namespace}/${ref.name}"`;
const mapsPath = (ref: ConfigMapRef) =>
  `/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/configmaps`;

/** Picks the key that holds the config; throws listing the keys when it cannot tell. */
function configText(object: ApiObject, ref: ConfigMapRef): string {
  const data = object.data ?? {};
  for (const key of CONFIG_KEYS) {
    const text = data[key];
    if (text !== undefined) return text;
  }
  const keys = Object.keys(data);
  const only = Object.values(data);
  if (only.length === 1 && only[0] !== undefined) return only[0];
  const found = keys.length === 0 ? "no keys" : `keys ${keys.map((k) => `"${k}"`).join(", ")}`;
  const expected = `expected "config.yml", "config.yaml" or a single key`;
  throw new Error(`ConfigMap ${label(ref)} has ${found} in "data"; ${expected}`);
}

/** GET /api/v1/namespaces/{ns}/configmaps/{name}: the config text and its resourceVersion. */
export async function readConfigMap(
  access: ClusterAccess,
  ref: ConfigMapRef,
  signal?: AbortSignal,
): Promise<ConfigMapText> {
  const client = createClient(access);
  try {
    return await read(access, ref, client, signal);
  } finally {
    client?.close();
  }
}

async function read(
  access: ClusterAccess,
  ref: ConfigMapRef,
  client: Deno.HttpClient | undefined,
  signal: AbortSignal | undefined,
): Promise<ConfigMapText> {
  const what = `Cannot read ConfigMap ${label(ref)}`;
  const path = `${mapsPath(ref)}/${encodeURIComponent(ref.name)}`;
  // Aborting is the caller's doing: its reason goes back unwrapped.
  const failed = (err: unknown) =>
    signal?.aborted ? err : new Error(`${what}: ${errorMessage(err)}`, { cause: err });
  let response: Response;
  try {
    response = await apiGet(access, path, client, signal);
  } catch (err) {
    throw failed(err);
  }
  if (!response.ok) throw new Error(`${what}: ${await httpFailure(response)}`);
  let object: ApiObject;
  try {
    object = await response.json();
  } catch (err) {
    throw failed(err);
  }
  return { text: configText(object, ref), resourceVersion: object.metadata?.resourceVersion ?? "" };
}

export interface WatchOptions {
  /** The first of the growing delays between reconnects; default 1 s. */
  readonly minBackoffMs?: number;
  /** What the caller already read: changes after it are reported, none are missed in between. */
  readonly from?: ConfigMapText;
}

/**
 * Calls `onChange(text)` whenever the config text in the ConfigMap changes, until `signal` aborts.
 * Without `options.from`, the text at the start is read and taken as known. A deleted ConfigMap is
 * logged and the current config stays. Never throws: failures are logged and retried with backoff.
 * `onChange` runs inside the event loop of the stream, so it should hand the text on, not throw.
 */
export async function watchConfigMap(
  access: ClusterAccess,
  ref: ConfigMapRef,
  onChange: (text: string) => void,
  signal: AbortSignal,
  options: WatchOptions = {},
): Promise<void> {
  const minBackoffMs = options.minBackoffMs ?? 1000;
  let last = options.from?.text;
  let version = options.from?.resourceVersion;
  let failures = 0;
  const seen = (text: string) => {
    if (last === undefined) last = text;
    else if (text !== last) {
      last = text;
      onChange(text);
    }
  };
  const handle: EventHandler = (type, object) => {
    if (type === "ERROR") {
      if (object.code === 410) return "stop";
      throw new Error(`the API sent an error: ${object.code} ${object.message ?? ""}`.trimEnd());
    }
    // Bookmarks carry only a resourceVersion: resuming from it skips events for other objects.
    version = object.metadata?.resourceVersion ?? version;
    failures = 0;
    if (type === "DELETED") log.warn(`ConfigMap ${label(ref)} was deleted; keeping the config`);
    if (type !== "ADDED" && type !== "MODIFIED") return undefined;
    try {
      seen(configText(object, ref));
    } catch (err) {
      log.warn(`Ignoring a change to ConfigMap ${label(ref)}`, { error: errorMessage(err) });
    }
    return undefined;
  };

  const client = createClient(access);
  try {
    while (!signal.aborted) {
      try {
        if (version === undefined) {
          const current = await read(access, ref, client, signal);
          version = current.resourceVersion;
          seen(current.text);
        }
        const query =
          `?watch=true&fieldSelector=${encodeURIComponent(`metadata.name=${ref.name}`)}` +
          `&resourceVersion=${encodeURIComponent(version)}&allowWatchBookmarks=true` +
          `&timeoutSeconds=${WATCH_TIMEOUT_S}`;
        const path = mapsPath(ref) + query;
        const end = await streamEvents(access, path, client, signal, handle, IDLE_LIMIT_MS);
        // Both mean the resourceVersion is older than the API's history: events may be lost.
        if (end === "stop" || end === "gone") {
          log.info(`ConfigMap ${label(ref)}: watch position expired, reading it again`);
          version = undefined;
        }
      } catch (err) {
        if (signal.aborted) break;
        log.warn(`Watching ConfigMap ${label(ref)} failed; retrying`, { error: errorMessage(err) });
      }
      await sleep(backoffDelay(failures++, minBackoffMs, MAX_BACKOFF_MS), signal).catch(() => {});
    }
  } finally {
    client?.close();
  }
}
