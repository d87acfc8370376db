/**
 * One Kubernetes watch request: a long GET whose body is newline-delimited JSON events
 * (`{"type":"MODIFIED","object":{...}}`). Feeds each event to a handler until the server ends the
 * stream, the handler says stop, the caller aborts, or nothing arrives for too long.
 * @module
 */

import { apiGet, type ClusterAccess, httpFailure } from "./access.ts";

/** The parts of a ConfigMap, or of the Status in an ERROR event, that this code reads. */
export interface ApiObject {
  readonly metadata?: { readonly resourceVersion?: string };
  readonly data?: Record<string, string>;
  readonly code?: number;
  readonly message?: string;
}

export type EventHandler = (type: unknown, object: ApiObject) => "stop" | undefined;

/** Resolves "ended" when the server closed the stream, "stop" when `handle` asked; throws otherwise. */
export async function streamEvents(
  access: ClusterAccess,
  pathAndQuery: string,
  client: Deno.HttpClient | undefined,
  signal: AbortSignal,
  handle: EventHandler,
  idleLimitMs: number,
): Promise<"ended" | "stop" | "gone"> {
  // A connection that a NAT or proxy dropped without a word never ends on its own; the server sends
  // bookmarks and closes at timeoutSeconds, so this much silence means it is dead.
  const idle = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(new Error("no data from the API server")), idleLimitMs);
  };
  arm();
  try {
    const both = AbortSignal.any([signal, idle.signal]);
    const response = await apiGet(access, pathAndQuery, client, both);
    if (response.status === 410) {
      await response.body?.cancel();
      return "gone";
    }
    if (!response.ok) throw new Error(await httpFailure(response));
    for await (const line of lines(response.body)) {
      arm();
      const event = JSON.parse(line);
      if (handle(event?.type, event?.object ?? {}) === "stop") return "stop";
    }
    return "ended";
  } finally {
    clearTimeout(timer);
  }
}

/** The non-empty lines of a byte stream. */
async function* lines(body: ReadableStream<Uint8Array> | null): AsyncGenerator<string> {
  if (!body) return;
  let buffer = "";
  for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    for (let end = buffer.indexOf("\n"); end >= 0; end = buffer.indexOf("\n")) {
      const line = buffer.slice(0, end).trim();
      buffer = buffer.slice(end + 1);
      if (line) yield line;
    }
  }
  // A partial last line is an event cut off with the connection; resuming gets it again.
}
