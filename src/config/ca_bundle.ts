/**
 * `ca_bundle` and AWS_CA_BUNDLE: a PEM file of certificate authorities that S3 requests trust
 * besides the public roots and the system's (see src/store/transport.ts). The file is read when
 * the config is loaded, so a missing or wrong file stops the start (or the reload, which keeps the
 * running config) with the key and the path, instead of failing every request later; and a
 * reload picks up a renewed CA.
 * @module
 */

import { X509Certificate } from "node:crypto";
import { isAbsolute, resolve } from "node:path";
import { ConfigError, errorMessage } from "../lib/errors.ts";
import { pemCertificates } from "../lib/pem.ts";
import { describe, readString } from "./check.ts";
import type { CaBundle } from "./types.ts";

/**
 * Reads the bundle `value` names. `field` is the key (`sites[0].ca_bundle`) or the variable
 * (`AWS_CA_BUNDLE`); a key must be an absolute path, as the daemon's working folder differs
 * under systemd and Kubernetes, while a variable is taken as the shell would.
 */
export function readCaBundle(value: unknown, field: string): CaBundle | undefined {
  const written = readString(value, field)?.trim();
  if (!written) return undefined;
  const fromEnv = !field.includes("ca_bundle");
  if (!fromEnv && !isAbsolute(written)) {
    throw new ConfigError(field, `must be an absolute path, got ${describe(written)}`);
  }
  const path = resolve(written);
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    throw new ConfigError(field, `cannot read ${JSON.stringify(path)}: ${reason(err)}`, {
      cause: err,
    });
  }
  const certificates = pemCertificates(text);
  if (certificates.length === 0) {
    throw new ConfigError(
      field,
      `${JSON.stringify(path)} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`,
    );
  }
  certificates.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch (err) {
      const which = certificates.length > 1 ? `certificate ${i + 1} of ` : "";
      throw new ConfigError(
        field,
        `${which}${JSON.stringify(path)} is not a valid certificate: ${errorMessage(err)}`,
        { cause: err },
      );
    }
  });
  return { path, certificates };
}

function reason(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "no such file";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (err instanceof Deno.errors.IsADirectory) return "it is a directory";
  return errorMessage(err);
}
