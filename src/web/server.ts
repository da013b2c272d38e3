/**
 * The HTTP listener of the web edge. Timeouts bound what a slow or idle
 * client can hold (slowloris: headers must arrive within headersTimeout,
 * a whole request within requestTimeout); stop() stops accepting, closes
 * idle keep-alive connections at once and cuts running downloads after a
 * grace period.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';

export interface WebListen {
  readonly host: string;
  readonly port: number;
}

export interface WebServerOptions {
  /** Time for a client to send the request headers. */
  readonly headersTimeout?: number;
  /** Time for a client to send a whole request (uploads come in tus chunks, each its own request). */
  readonly requestTimeout?: number;
  /** Idle keep-alive connections are closed after this. */
  readonly keepAliveTimeout?: number;
  /** A socket with no traffic either way for this long is closed (a client that stopped reading a download). */
  readonly idleTimeout?: number;
  /** How long stop() lets running responses finish before cutting them. */
  readonly closeGrace?: number;
}

export interface WebServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startWebServer(app: RequestListener, listen: WebListen, options: WebServerOptions = {}): Promise<WebServer> {
  const server = http.createServer(
    {
      headersTimeout: options.headersTimeout ?? 20_000,
      requestTimeout: options.requestTimeout ?? 300_000,
      keepAliveTimeout: options.keepAliveTimeout ?? 5_000,
      maxHeaderSize: 16_384,
      // How often Node checks the two timeouts above (its default, 30 s, would let a slow client linger that long).
      connectionsCheckingInterval: Math.min(options.headersTimeout ?? 20_000, 2_000) / 2,
    },
    app,
  );
  server.setTimeout(options.idleTimeout ?? 120_000, (socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(listen.port, listen.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        const grace = setTimeout(() => server.closeAllConnections(), options.closeGrace ?? 5_000);
        grace.unref();
        server.close(() => {
          clearTimeout(grace);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
