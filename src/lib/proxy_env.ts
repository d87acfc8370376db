/**
 * The proxy settings of the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) and the decision, per
 * URL, whether a request goes through a proxy and which. Read once, at config load, so that every
 * site of a generation decides alike; the transport (src/store/transport.ts) applies the decision.
 *
 * Where tools disagree, this follows Deno's own `fetch`, which the Kubernetes API calls use, so
 * that one environment means the same thing for every request the daemon makes, and the Go tool,
 * which did the same:
 *
 * - the upper-case name wins when both are set (curl prefers the lower-case one; Deno and Go do
 *   not); in practice both are set to the same value;
 * - ALL_PROXY is not read (neither Deno nor Go reads it);
 * - NO_PROXY entries: `*` (no proxy at all), a host name, which covers its subdomains too, with or
 *   without a leading dot or `*.` (`example.com`, `.example.com`), an IP address, a CIDR range
 *   (`10.0.0.0/8`, `fd00::/8`), and any of these with `:port`, which limits it to that port.
 *   Deno's fetch takes all but `*` and `:port`.
 *
 * Link-local addresses (169.254.0.0/16, fe80::/10) and the EC2 metadata addresses fd00:ec2::254 and
 * fd00:ec2::23 never go through a proxy: they are instance metadata, container credentials and pod
 * identity, which only the machine itself can answer.
 *
 * Proxy URLs may carry credentials (`http://user:pass@proxy:3128`): `maskProxyUrl()` is the only
 * form that may reach a log line or a message.
 * @module
 */

import { ConfigError } from "./errors.ts";

export type Env = Readonly<Record<string, string | undefined>>;

export interface ProxySettings {
  /** For https URLs: a normalised `http://` URL, which may hold credentials; never log it. */
  readonly httpsProxy: string | undefined;
  /** For http URLs, likewise. */
  readonly httpProxy: string | undefined;
  /** NO_PROXY as written (upper-case first), empty when unset. */
  readonly noProxy: string;
}

/** Reads the proxy variables; a value that is no usable proxy URL is a `ConfigError` naming it. */
export function readProxyEnv(env: Env): ProxySettings {
  const read = (upper: string) => {
    const name = env[upper]?.trim() ? upper : upper.toLowerCase();
    const value = env[name]?.trim();
    return value ? normaliseProxyUrl(value, name) : undefined;
  };
  return {
    httpsProxy: read("HTTPS_PROXY"),
    httpProxy: read("HTTP_PROXY"),
    noProxy: (env.NO_PROXY || env.no_proxy || "").trim(),
  };
}

function normaliseProxyUrl(value: string, name: string): string {
  // "proxy:3128", as curl and Deno take it, is an http proxy.
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // The value itself stays out of the message: it may hold a password.
    throw new ConfigError(name, "is not a URL (expected http://[user:password@]host:port)");
  }
  if (url.protocol !== "http:") {
    throw new ConfigError(
      name,
      `must be an http:// proxy URL, got ${url.protocol}// (https and SOCKS proxies are not ` +
        "supported)",
    );
  }
  if (!url.hostname) throw new ConfigError(name, "names no proxy host");
  try {
    decodeURIComponent(url.username + url.password);
  } catch {
    throw new ConfigError(name, "has a user name or password that is not valid %-encoding");
  }
  return url.href;
}

/**
 * The proxy for a request to `url`, or undefined to connect directly. `url` is the request's (an
 * https URL asks HTTPS_PROXY, an http URL HTTP_PROXY).
 */
export function proxyFor(url: URL, settings: ProxySettings | undefined): URL | undefined {
  const proxy = url.protocol === "https:" ? settings?.httpsProxy : settings?.httpProxy;
  if (!proxy || !settings) return undefined;
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  if (alwaysDirect(url.hostname) || bypassesProxy(url.hostname, port, settings.noProxy)) {
    return undefined;
  }
  return new URL(proxy);
}

/** The proxy URL with any user name and password replaced by `***`, for logs and messages. */
export function maskProxyUrl(proxy: string | URL): string {
  const url = new URL(proxy);
  if (url.username || url.password) {
    url.username = "***";
    url.password = "";
  }
  return url.href.replace(/\/$/, "");
}

/** True when NO_PROXY says that `host` (a URL's hostname, IPv6 in brackets or not) is direct. */
export function bypassesProxy(host: string, port: number, noProxy: string): boolean {
  const name = bare(host);
  const address = parseIp(name);
  for (const entry of noProxy.toLowerCase().split(/[\s,]+/)) {
    if (!entry) continue;
    if (entry === "*") return true;
    const { target, entryPort } = splitPort(entry);
    if (entryPort !== undefined && entryPort !== port) continue;
    const cidr = /^(.+)\/(\d{1,3})$/.exec(target);
    if (cidr) {
      const range = parseIp(cidr[1] ?? "");
      if (address && range && inRange(address, range, Number(cidr[2]))) return true;
      continue;
    }
    const ip = parseIp(target);
    if (ip) {
      if (address && ip.bits === address.bits && ip.value === address.value) return true;
      continue;
    }
    // Names match names only: "0.1" is no suffix of the address 10.0.0.1.
    const domain = target.replace(/^\*?\./, "").replace(/\.$/, "");
    if (!address && domain && (name === domain || name.endsWith(`.${domain}`))) return true;
  }
  return false;
}

const bare = (host: string): string =>
  host.toLowerCase().replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");

/** `host:port`, `[v6]:port`, or no port (a bare IPv6 address has colons of its own). */
function splitPort(entry: string): { target: string; entryPort: number | undefined } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) {
    return { target: bracketed[1] ?? "", entryPort: portOf(bracketed[2]) };
  }
  const hostPort = /^([^:]+):(\d+)$/.exec(entry);
  if (hostPort) return { target: hostPort[1] ?? "", entryPort: portOf(hostPort[2]) };
  return { target: entry, entryPort: undefined };
}

const portOf = (text: string | undefined): number | undefined =>
  text === undefined ? undefined : Number(text);

interface Ip {
  readonly bits: 32 | 128;
  readonly value: bigint;
}

/** An IPv4 or IPv6 address as a number, or undefined for a host name. */
function parseIp(text: string): Ip | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
    const parts = text.split(".").map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return { bits: 32, value: parts.reduce((sum, p) => (sum << 8n) + BigInt(p), 0n) };
  }
  if (!text.includes(":")) return undefined;
  let url: URL;
  try {
    url = new URL(`http://[${text}]/`);
  } catch {
    return undefined;
  }
  // The URL parser writes it out in full groups' short form; expand "::" to 8 groups.
  const written = url.hostname.slice(1, -1);
  const [head = "", tail] = written.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  if (groups.length !== 8 || groups.some((g) => g.includes("."))) return undefined;
  return { bits: 128, value: groups.reduce((sum, g) => (sum << 16n) + BigInt(`0x${g}`), 0n) };
}

function inRange(address: Ip, range: Ip, prefix: number): boolean {
  if (address.bits !== range.bits || prefix > address.bits) return false;
  const shift = BigInt(address.bits - prefix);
  return address.value >> shift === range.value >> shift;
}

const LINK_LOCAL_V4 = parseIp("169.254.0.0");
const LINK_LOCAL_V6 = parseIp("fe80::");
const EC2_METADATA = ["fd00:ec2::254", "fd00:ec2::23"].map(parseIp);

/** Instance metadata, container credentials and pod identity: only the machine can answer. */
function alwaysDirect(host: string): boolean {
  const address = parseIp(bare(host));
  if (!address) return false;
  if (LINK_LOCAL_V4 && inRange(address, LINK_LOCAL_V4, 16)) return true;
  if (LINK_LOCAL_V6 && inRange(address, LINK_LOCAL_V6, 10)) return true;
  return EC2_METADATA.some((ip) => ip?.bits === address.bits && ip.value === address.value);
}
