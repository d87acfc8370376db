/**
 * What TLS connections to S3 trust, and what a failed handshake says. Node's `ca` option replaces
 * the default roots (Deno's node:tls does the same, checked), so when there is anything to add,
 * `ca` is the bundled Mozilla roots plus the system bundle (the certificates an admin installed,
 * which the Go tool and curl trust) plus `ca_bundle`, without duplicates. Each new TLS connection
 * parses that list, about 45 µs a certificate (8 ms for the usual 170), so it is passed only when
 * it adds something; sockets are kept alive.
 * @module
 */

import tls from "node:tls";
import type { CaBundle } from "../config/types.ts";
import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { pemBody, pemCertificates } from "../lib/pem.ts";

/** Where distributions keep the system's CA bundle; the first that exists is read (Go's list). */
export const SYSTEM_CA_FILES: readonly string[] = [
  "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine with ca-certificates
  "/etc/pki/tls/certs/ca-bundle.crt", // Fedora, RHEL
  "/etc/ssl/ca-bundle.pem", // openSUSE
  "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7
  "/etc/ssl/cert.pem", // Alpine, macOS
];

/**
 * What `ca` must be: undefined when the system store and `caBundle` add nothing to the bundled
 * roots, which Deno then uses by default (faster, see the module note).
 */
export function trustedCas(
  caBundle: CaBundle | undefined,
  systemFiles: readonly string[],
): string[] | undefined {
  const roots = tls.rootCertificates;
  const seen = new Set(roots.map(pemBody));
  const extra: string[] = [];
  const add = (certificates: readonly string[]) => {
    for (const pem of certificates) {
      if (!seen.has(pemBody(pem))) extra.push(pem);
      seen.add(pemBody(pem));
    }
  };
  const system = readSystemBundle(systemFiles);
  if (system) add(pemCertificates(system));
  if (caBundle) add(caBundle.certificates);
  return extra.length > 0 ? [...roots, ...extra] : undefined;
}

function readSystemBundle(files: readonly string[]): string | undefined {
  for (const path of files) {
    try {
      return Deno.readTextFileSync(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      log.debug("cannot read the system CA bundle", { path, error: errorMessage(err) });
    }
  }
  return undefined;
}

const UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
]);

const HANDSHAKE = Symbol("TLS handshake failure");

/**
 * True for an error explainTlsFailure rewrote, or one caused by it: a certificate refused is not
 * transient, and retrying it only delays the message.
 */
export function isHandshakeFailure(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    if ((e as { [HANDSHAKE]?: boolean })[HANDSHAKE]) return true;
  }
  return false;
}

/** Rewrites a handshake failure's message to name the endpoint and the way out. */
export function explainTlsFailure(socket: tls.TLSSocket, endpoint: string): void {
  let secured = false;
  socket.once("secureConnect", () => secured = true);
  socket.prependOnceListener("error", (err: Error & { code?: string }) => {
    // Plain socket errors (ECONNREFUSED 10.0.0.1:443) say where already.
    if (secured || /^E[A-Z]+$/.test(err.code ?? "")) return;
    const code = err.code ?? "";
    const hint = UNTRUSTED.has(code)
      ? "; the certificate is not signed by a CA this host trusts: give the CA's PEM file in " +
        "ca_bundle or AWS_CA_BUNDLE"
      : code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID"
      ? "; check the certificate's dates and this host's clock"
      : code === "ERR_TLS_CERT_ALTNAME_INVALID"
      ? "; the certificate is for other names: use one of them in endpoint"
      : code === "ERR_SSL_WRONG_VERSION_NUMBER"
      ? "; the server does not speak TLS on that port: is the endpoint http://?"
      : "";
    err.message = `TLS handshake with ${endpoint} failed: ${errorMessage(err)}${hint}`;
    (err as { [HANDSHAKE]?: boolean })[HANDSHAKE] = true;
  });
}
