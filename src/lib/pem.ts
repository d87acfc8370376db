/**
 * PEM text: what `ca_bundle` files and the system's CA bundle hold.
 * @module
 */

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The certificates in `text`, each as its own PEM block; other blocks and text are skipped. */
export function pemCertificates(text: string): string[] {
  return text.match(PEM_CERTIFICATE) ?? [];
}

/** The certificate's base64 body alone, so that copies with other line breaks compare equal. */
export function pemBody(pem: string): string {
  return pem.replace(/-----[^-]+-----|\s+/g, "");
}
