/**
 * A stand-in for the two Kubernetes API endpoints the ConfigMap code uses, for tests: GET one
 * ConfigMap, and watch the ConfigMaps of a namespace as newline-delimited JSON over plain HTTP on
 * 127.0.0.1. Like the real API's watch cache it keeps a history, so a watch from an older
 * resourceVersion replays what it missed, and one from before the history gets an ERROR 410.
 * @module
 */

import type { ClusterAccess } from "./access.ts";

type Data = Record<string, string>;
interface Stored {
  readonly namespace: string;
  readonly name: string;
  readonly data: Data;
  readonly resourceVersion: number;
}
interface Event {
  readonly type: "ADDED" | "MODIFIED" | "DELETED";
  readonly key: string;
  readonly resourceVersion: number;
  readonly object: unknown;
}
interface Watch {
  readonly key: string;
  send(event: unknown): void;
  close(): void;
}

const encoder = new TextEncoder();
const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

function toObject(map: Stored) {
  const { namespace, name, data, resourceVersion } = map;
  const metadata = { name, namespace, resourceVersion: String(resourceVersion) };
  return { kind: "ConfigMap", apiVersion: "v1", metadata, data };
}

function status(code: number, reason: string, message: string) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    code,
  };
}

export class FakeKubeApi {
  readonly token: string;
  /** When set, every authenticated request gets 403, as with missing RBAC rules. */
  forbidden = false;
  /** Every request as `GET /path?query`, in order. */
  readonly requests: string[] = [];
  #maps = new Map<string, Stored>();
  #history: Event[] = [];
  /** Watches from a resourceVersion below this get 410 Gone: their history was compacted. */
  #oldest = 0;
  #version = 1000;
  #watches = new Set<Watch>();
  #opened = 0;
  #waiting: Array<{ ready: () => boolean; resolve: () => void }> = [];
  #server: Deno.HttpServer<Deno.NetAddr>;

  constructor(token = "fake-sa-token-0123456789abcdef") {
    this.token = token;
    const options = { hostname: "127.0.0.1", port: 0, onListen: () => {} };
    this.#server = Deno.serve(options, (request) => this.#handle(request));
  }

  /** Access as a pod would have it, with another token to test rejection. */
  access(token: string = this.token): ClusterAccess {
    return { apiUrl: `http://127.0.0.1:${this.#server.addr.port}`, token, caCert: undefined };
  }

  /** Creates or replaces a ConfigMap; `silent` leaves no event, as if compacted away. */
  set(namespace: string, name: string, data: Data, { silent = false } = {}): void {
    const key = keyOf(namespace, name);
    const type = this.#maps.has(key) ? "MODIFIED" : "ADDED";
    const map = { namespace, name, data, resourceVersion: ++this.#version };
    this.#maps.set(key, map);
    if (!silent) {
      this.#publish({ type, key, resourceVersion: map.resourceVersion, object: toObject(map) });
    }
  }

  delete(namespace: string, name: string): void {
    const key = keyOf(namespace, name);
    const map = this.#maps.get(key);
    if (!map) return;
    this.#maps.delete(key);
    const object = toObject({ ...map, resourceVersion: ++this.#version });
    this.#publish({ type: "DELETED", key, resourceVersion: this.#version, object });
  }

  /** Sends a BOOKMARK to open watches; returns its resourceVersion. */
  bookmark(): string {
    const metadata = { resourceVersion: String(++this.#version) };
    const object = { kind: "ConfigMap", apiVersion: "v1", metadata };
    for (const watch of this.#watches) watch.send({ type: "BOOKMARK", object });
    return metadata.resourceVersion;
  }

  /** Drops the history: open watches get an ERROR 410 event and are closed. */
  expire(): void {
    this.#history = [];
    this.#oldest = this.#version;
    for (const watch of [...this.#watches]) {
      watch.send({ type: "ERROR", object: this.#gone() });
      watch.close();
    }
  }

  /** Ends every watch stream cleanly, as the API does at timeoutSeconds. */
  closeWatches(): void {
    for (const watch of [...this.#watches]) watch.close();
  }

  /** Resolves once `ready()` holds, checked after each request. */
  until(ready: () => boolean): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push({ ready, resolve }));
  }

  /** Resolves once `count` watch requests have been answered since the start. */
  watchesOpened(count: number): Promise<void> {
    return this.until(() => this.#opened >= count);
  }

  async close(): Promise<void> {
    this.closeWatches();
    await this.#server.shutdown();
  }

  #gone() {
    return status(410, "Expired", `too old resource version: (${this.#oldest})`);
  }

  #publish(event: Event): void {
    this.#history.push(event);
    for (const watch of this.#watches) {
      if (watch.key === event.key) watch.send({ type: event.type, object: event.object });
    }
  }

  #handle(request: Request): Response {
    const response = this.#respond(request);
    const ready = this.#waiting.filter((w) => w.ready());
    this.#waiting = this.#waiting.filter((w) => !ready.includes(w));
    for (const waiter of ready) waiter.resolve();
    return response;
  }

  #respond(request: Request): Response {
    const url = new URL(request.url);
    this.requests.push(`${request.method} ${url.pathname}${url.search}`);
    if (request.headers.get("authorization") !== `Bearer ${this.token}`) {
      return Response.json(status(401, "Unauthorized", "Unauthorized"), { status: 401 });
    }
    const match = url.pathname.match(/^\/api\/v1\/namespaces\/([^/]+)\/configmaps(?:\/([^/]+))?$/);
    const namespace = decodeURIComponent(match?.[1] ?? "");
    const name = match?.[2] === undefined
      ? url.searchParams.get("fieldSelector")?.replace(/^metadata\.name=/, "") ?? ""
      : decodeURIComponent(match[2]);
    if (match && this.forbidden) {
      const message = `configmaps "${name}" is forbidden: User "system:serviceaccount:` +
        `${namespace}:s3sync" cannot get resource "configmaps" in the namespace "${namespace}"`;
      return Response.json(status(403, "Forbidden", message), { status: 403 });
    }
    const map = this.#maps.get(keyOf(namespace, name));
    if (match?.[2] !== undefined && request.method === "GET") {
      if (map) return Response.json(toObject(map));
      return Response.json(status(404, "NotFound", `configmaps "${name}" not found`), {
        status: 404,
      });
    }
    if (match && url.searchParams.get("watch") === "true") {
      return this.#watch(keyOf(namespace, name), Number(url.searchParams.get("resourceVersion")));
    }
    const message = "the server could not find the requested resource";
    return Response.json(status(404, "NotFound", message), { status: 404 });
  }

  #watch(key: string, from: number): Response {
    let watch: Watch | undefined;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        const send = (event: unknown) =>
          controller.enqueue(encoder.encode(JSON.stringify(event) + "\n"));
        if (from < this.#oldest) {
          send({ type: "ERROR", object: this.#gone() });
          controller.close();
          return;
        }
        for (const event of this.#history) {
          if (event.key === key && event.resourceVersion > from) {
            send({ type: event.type, object: event.object });
          }
        }
        const close = () => {
          this.#watches.delete(current);
          controller.close();
        };
        const current: Watch = { key, send, close };
        watch = current;
        this.#watches.add(current);
      },
      cancel: () => {
        if (watch) this.#watches.delete(watch);
      },
    });
    this.#opened++;
    return new Response(body, { headers: { "content-type": "application/json" } });
  }
}
