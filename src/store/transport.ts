/**
 * The connections to one S3 endpoint: an `http.Agent` and an `https.Agent` that both request paths
 * share (the SDK's NodeHttpHandler, and our own `node:http` requests in s3_http.ts), so that both
 * go through the same proxy, trust the same certificate authorities and draw on one socket pool.
 *
 * - Proxies (decided per request by src/lib/proxy_env.ts): https URLs go through a CONNECT tunnel
 *   and TLS runs end to end inside it, so the proxy sees only the host name; http URLs are sent to
 *   the proxy with their absolute URI, as curl, Go and Deno's fetch do. CONNECT would work for them
 *   too, but proxies commonly allow it to port 443 only (squid's default `SSL_ports`), and an
 *   http endpoint is on 80, 9000 or 7480. Credentials in the proxy URL go in Proxy-Authorization.
 * - Trust: see trust.ts, shared by both agents' connections.
 * - A failed handshake names the endpoint and says what to do, not just "unable to verify the
 *   first certificate"; a failure to reach the proxy names the proxy (its credentials masked).
 *
 * The AWS SDK's instance-metadata and container-credential providers make their own requests with
 * `node:http` and no agent of ours, so they never go through a proxy (Deno's node:http reads no
 * proxy variables, checked); STS, for web identity and assumed roles, reuses this client's
 * handler, so it goes through these agents like S3 does.
 * @module
 */

import { Buffer } from "node:buffer";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { CaBundle } from "../config/types.ts";
import { errorMessage } from "../lib/errors.ts";
import { log, registerSecret } from "../lib/log.ts";
import { explainTlsFailure, SYSTEM_CA_FILES, trustedCas } from "./trust.ts";
import { maskProxyUrl, proxyFor, type ProxySettings } from "../lib/proxy_env.ts";

export interface TransportOptions {
  /** Sockets per host, for each agent. */
  readonly maxSockets: number;
  readonly proxy?: ProxySettings;
  /** Certificate authorities trusted besides the public and system ones. */
  readonly caBundle?: CaBundle;
  /** Default SYSTEM_CA_FILES; tests pass [] to leave the machine's store out. */
  readonly systemCaFiles?: readonly string[];
}

export interface Transport {
  readonly httpAgent: http.Agent;
  readonly httpsAgent: https.Agent;
  /** The agent for a request to `url`: pass it as `agent` to `http.request`/`https.request`. */
  agentFor(url: URL): http.Agent;
  /** The proxy the endpoint's requests go through, credentials masked; undefined when direct. */
  readonly proxy: string | undefined;
  /** Closes every socket, idle or not; for when the store is dropped. */
  destroy(): void;
}

/** Builds the agents for requests to `endpoint` (other hosts work too, with their own route). */
export function createTransport(endpoint: string | URL, options: TransportOptions): Transport {
  const { proxy: settings, maxSockets } = options;
  for (const url of [settings?.httpsProxy, settings?.httpProxy]) {
    if (url) registerSecret(decodeURIComponent(new URL(url).password));
  }
  const route = (protocol: string, host: string, port: number): URL | undefined => {
    const authority = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
    return proxyFor(new URL(`${protocol}//${authority}:${port}`), settings);
  };
  const ca = trustedCas(options.caBundle, options.systemCaFiles ?? SYSTEM_CA_FILES);
  const agentOptions = { keepAlive: true, maxSockets };
  const httpAgent = new ForwardingAgent(agentOptions, (h, p) => route("http:", h, p));
  const httpsAgent = new TunnelingAgent({ ...agentOptions, ca }, (h, p) => route("https:", h, p));
  const proxy = proxyFor(new URL(endpoint), settings);
  return {
    httpAgent,
    httpsAgent,
    agentFor: (url) => url.protocol === "https:" ? httpsAgent : httpAgent,
    proxy: proxy ? maskProxyUrl(proxy) : undefined,
    destroy: () => {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/** What each endpoint was last said to go through, so that each site of each reload says it once. */
const announced = new Map<string, string>();

/**
 * Logs, once per endpoint and again when it changes, whether its requests go through a proxy
 * (credentials masked) and which extra CAs they trust.
 */
export function logTransport(endpoint: string, transport: Transport, caBundle?: CaBundle): void {
  const fields = { endpoint, proxy: transport.proxy ?? "none", ca_bundle: caBundle?.path };
  const said = JSON.stringify(fields);
  if (announced.get(endpoint) === said) return;
  announced.set(endpoint, said);
  log.info(transport.proxy ? "S3 requests go through a proxy" : "S3 requests go direct", fields);
}

type Route = (host: string, port: number) => URL | undefined;

/** A host without the brackets an IPv6 address has in a URL. */
const bare = (host: string): string => host.replace(/^\[(.*)\]$/, "$1");
type ConnectOptions = http.ClientRequestArgs & tls.ConnectionOptions;
type Callback = NonNullable<Parameters<http.Agent["createConnection"]>[1]>;
/** Node's Agent reads no socket returned as "it comes through the callback" (agent-base's way). */
const LATER = undefined as unknown as Duplex;

/** Node's internal `Agent#addRequest`, and the request fields it may change before sending. */
interface AgentInternals {
  addRequest(request: http.ClientRequest, options: http.RequestOptions): void;
}
interface RequestInternals {
  path: string;
  _header: string | null;
  _implicitHeader(): void;
  outputData?: { data: string | Uint8Array }[];
}

/** Plain http: through the proxy with an absolute URI, or straight to the server. */
class ForwardingAgent extends http.Agent {
  constructor(options: http.AgentOptions, private readonly route: Route) {
    super(options);
  }

  addRequest(request: http.ClientRequest, options: http.RequestOptions): void {
    const base = http.Agent.prototype as unknown as AgentInternals;
    const host = bare(options.host ?? options.hostname ?? "localhost");
    const port = Number(options.port ?? 80);
    const proxy = this.route(host, port);
    if (!proxy) return base.addRequest.call(this, request, options);
    const req = request as unknown as RequestInternals;
    const authority = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    if (!req.path.includes("://")) req.path = `http://${authority}${req.path}`;
    // With "Expect: 100-continue" Node writes the head before the agent sees the request: it is
    // written again, with the absolute URI and the credentials, in place of the stored one.
    const stored = req._header;
    req._header = null;
    const auth = proxyAuthorization(proxy);
    if (auth) request.setHeader("proxy-authorization", auth);
    if (stored) {
      req._implicitHeader();
      const first = req.outputData?.[0];
      if (first && typeof first.data === "string" && first.data.startsWith(stored)) {
        first.data = req._header + first.data.slice(stored.length);
      }
    }
    const proxyHost = proxy.hostname.replace(/^\[|\]$/g, "");
    const proxyPort = Number(proxy.port || 80);
    const via = { host: proxyHost, hostname: proxyHost, port: proxyPort };
    base.addRequest.call(this, request, { ...options, ...via, [VIA]: maskProxyUrl(proxy) });
  }

  override createConnection(options: ConnectOptions, _callback?: Callback): Duplex {
    const socket = net.connect(options as net.NetConnectOpts);
    const via = (options as Record<symbol, string>)[VIA];
    if (via) explainErrors(socket, `Cannot reach the proxy ${via}`);
    return socket;
  }
}

/** Marks the options of a connection to a proxy, for messages. */
const VIA = Symbol("via proxy");

/** https: TLS end to end, through a CONNECT tunnel or straight to the server. */
class TunnelingAgent extends https.Agent {
  constructor(options: https.AgentOptions, private readonly route: Route) {
    super(options);
  }

  override createConnection(options: ConnectOptions, callback?: Callback): Duplex {
    const host = bare(options.host ?? "localhost");
    const port = Number(options.port ?? 443);
    const endpoint = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
    const proxy = this.route(host, port);
    if (!proxy) {
      const socket = tls.connect(options);
      explainTlsFailure(socket, endpoint);
      return socket;
    }
    const via = maskProxyUrl(proxy);
    openTunnel(proxy, host, port).then(
      (tunnel) => {
        const socket = tls.connect({ ...options, socket: tunnel });
        explainTlsFailure(socket, `${endpoint} (through the proxy ${via})`);
        callback?.(null, socket);
      },
      (err) => callback?.(err, LATER),
    );
    return LATER;
  }
}

/** How long a proxy may take to connect and answer a CONNECT. */
const TUNNEL_TIMEOUT_MS = 30_000;
const MAX_ANSWER_BYTES = 16 * 1024;

/** A socket to `host:port` through `proxy`, once the proxy has answered 200 to CONNECT. */
function openTunnel(proxy: URL, host: string, port: number): Promise<net.Socket> {
  const via = maskProxyUrl(proxy);
  const target = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: proxy.hostname.replace(/^\[|\]$/g, ""),
      port: Number(proxy.port || 80),
    });
    let answer = Buffer.alloc(0);
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    const onError = (err: Error) => fail(withMessage(err, `Cannot reach the proxy ${via}`));
    const onClose = () =>
      fail(networkError(`The proxy ${via} closed the connection before answering CONNECT`));
    const onData = (chunk: Uint8Array) => {
      answer = Buffer.concat([answer, chunk]);
      const end = answer.indexOf("\r\n\r\n");
      if (end < 0) {
        if (answer.length > MAX_ANSWER_BYTES) fail(networkError(`The proxy ${via} sent no HTTP`));
        return;
      }
      socket.off("data", onData).off("error", onError).off("close", onClose);
      socket.setTimeout(0);
      socket.pause();
      const statusLine = answer.subarray(0, answer.indexOf("\r\n")).toString("latin1");
      const status = Number(statusLine.split(" ")[1]);
      if (status >= 200 && status < 300) {
        const rest = answer.subarray(end + 4);
        if (rest.length > 0) socket.unshift(rest);
        return resolve(socket);
      }
      const why = statusLine.replace(/^HTTP\/\S+\s*/, "HTTP ");
      fail(proxyRefusal(`The proxy ${via} refused to open a tunnel to ${target}: ${why}`, status));
    };
    socket.on("data", onData).on("error", onError).on("close", onClose);
    socket.setTimeout(TUNNEL_TIMEOUT_MS, () => {
      const err = networkError(`The proxy ${via} did not answer CONNECT in time`);
      fail(Object.assign(err, { code: "ETIMEDOUT" }));
    });
    socket.once("connect", () => {
      const auth = proxyAuthorization(proxy);
      socket.write(
        `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n` +
          (auth ? `Proxy-Authorization: ${auth}\r\n` : "") + "\r\n",
      );
    });
  });
}

function proxyAuthorization(proxy: URL): string | undefined {
  if (!proxy.username && !proxy.password) return undefined;
  const pair = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return `Basic ${Buffer.from(pair).toString("base64")}`;
}

/** Shaped like S3Http's network errors, which retry.ts retries. */
function networkError(message: string): Error {
  const err = new Error(message);
  err.name = "NetworkingError";
  return err;
}

/**
 * A proxy's answer to CONNECT. 502, 503 and 504 mean the proxy could not reach the server, which
 * is worth retrying like a refused connection; 403 or 407 will not change by retrying.
 */
function proxyRefusal(message: string, status: number): Error {
  const err = new Error(message);
  err.name = [502, 503, 504].includes(status) ? "NetworkingError" : "ProxyRefused";
  return err;
}

function withMessage(err: Error, prefix: string): Error {
  err.message = `${prefix}: ${errorMessage(err)}`;
  return err;
}

/** Prefixes the socket's first error, before anyone else sees it. */
function explainErrors(socket: net.Socket, prefix: string): void {
  socket.prependOnceListener("error", (err: Error) => withMessage(err, prefix));
}
