/**
 * RGW behind TLS, for tests of private certificate authorities: `makeTestCa()` makes a CA and a
 * server certificate for 127.0.0.1 and localhost with openssl, and `TlsFront` terminates TLS with
 * it and pipes the plain bytes to the S3 server. The Host header passes unchanged, as in
 * fault_proxy.ts: the client signs for the front's address, and RGW accepts that for path-style
 * requests.
 * @module
 */

import { ConnServer } from "./conn_server.ts";

export interface TestCa {
  /** PEM of the CA, the file a `ca_bundle` names. */
  readonly caPath: string;
  readonly certPath: string;
  readonly keyPath: string;
}

/** A fresh CA in `dir`, and a certificate it signed for 127.0.0.1 and localhost. */
export async function makeTestCa(dir: string): Promise<TestCa> {
  const at = (name: string) => `${dir}/${name}`;
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    at("ca.key"),
    "-out",
    at("ca.pem"),
    "-days",
    "2",
    "-subj",
    "/CN=s3sync test CA",
  ]);
  await openssl([
    "req",
    ...ec,
    "-keyout",
    at("server.key"),
    "-out",
    at("server.csr"),
    "-subj",
    "/CN=127.0.0.1",
  ]);
  await Deno.writeTextFile(
    at("server.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n" +
      "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    at("server.csr"),
    "-CA",
    at("ca.pem"),
    "-CAkey",
    at("ca.key"),
    "-CAcreateserial",
    "-out",
    at("server.pem"),
    "-days",
    "2",
    "-extfile",
    at("server.ext"),
  ]);
  return { caPath: at("ca.pem"), certPath: at("server.pem"), keyPath: at("server.key") };
}

async function openssl(args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

export class TlsFront {
  /** TLS connections accepted, whether or not the client then accepted our certificate. */
  connections = 0;
  /** Connections whose handshake completed and reached the server behind. */
  forwarded = 0;
  readonly #server: ConnServer<Deno.TlsConn>;
  readonly #upstream: { hostname: string; port: number };

  private constructor(upstream: URL, cert: string, key: string) {
    this.#upstream = { hostname: upstream.hostname, port: Number(upstream.port || 80) };
    const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
    this.#server = new ConnServer(listener, (client) => this.#serve(client));
  }

  static async start(upstream: URL, ca: TestCa): Promise<TlsFront> {
    const [cert, key] = await Promise.all([
      Deno.readTextFile(ca.certPath),
      Deno.readTextFile(ca.keyPath),
    ]);
    return new TlsFront(upstream, cert, key);
  }

  get port(): number {
    return this.#server.port;
  }

  /** `https://127.0.0.1:<port>`. */
  get endpoint(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  close(): Promise<void> {
    return this.#server.close();
  }

  async #serve(client: Deno.TlsConn): Promise<void> {
    this.connections++;
    try {
      // A client that refuses our certificate ends here.
      await client.handshake();
      const server = await Deno.connect(this.#upstream);
      this.#server.track(server);
      this.forwarded++;
      await this.#server.splice(client, server);
    } catch {
      // the handshake failed
    } finally {
      this.#server.closeQuietly(client);
    }
  }
}
