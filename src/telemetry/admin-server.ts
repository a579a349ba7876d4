import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger.js';

export interface Readiness {
  readonly ready: boolean;
  /** One entry per dependency, e.g. `{ buffer: 'ok', sink: 'otlp-http: HTTP 503' }`. */
  readonly checks: Record<string, string>;
}

export interface AdminServerOptions {
  /** Address to listen on, e.g. 127.0.0.1. */
  readonly host: string;
  /** TCP port; 0 picks a free one (see the address `start` returns). */
  readonly port: number;
  /** Asked on every GET /readyz. */
  readonly readiness: () => Promise<Readiness>;
  /** What GET /status serves as JSON (a promise is awaited); without it /status is 404. */
  readonly status?: () => unknown;
  /** Exposition served on GET /metrics (e.g. prom-client's registry); without it /metrics is 404. */
  readonly metrics?: () => Promise<{ contentType: string; body: string }>;
  readonly logger: Logger;
}

/**
 * The admin HTTP endpoints for orchestrators and people: `/healthz` (the process serves),
 * `/readyz` (dependencies ready: 200 or 503 with the checks), `/status`, `/metrics`.
 */
export class AdminServer {
  private readonly options: AdminServerOptions;
  private server: Server | undefined;
  private starting: Promise<{ host: string; port: number }> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(options: AdminServerOptions) {
    this.options = options;
  }

  /** Starts listening. Idempotent; resolves with the bound address. */
  start(): Promise<{ host: string; port: number }> {
    if (this.stopping !== undefined) return Promise.reject(new Error('the admin server was stopped and cannot start again'));
    this.starting ??= this.listen();
    return this.starting;
  }

  /** Stops listening and closes its connections. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async listen(): Promise<{ host: string; port: number }> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.options.logger.error({ err, url: req.url }, 'admin endpoint failed');
        if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
        else res.destroy();
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.options.logger.error({ err }, 'admin server error'));
    const address = server.address() as AddressInfo;
    this.options.logger.info({ host: address.address, port: address.port }, 'admin server listening');
    return { host: address.address, port: address.port };
  }

  private async shutdown(): Promise<void> {
    if (this.starting !== undefined) await this.starting.catch(() => undefined);
    const server = this.server;
    if (server === undefined) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Admin answers are short and carry no data worth waiting for; probes simply retry.
    server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const path = url.includes('?') ? url.slice(0, url.indexOf('?')) : url;
    const route = this.route(path);
    if (route === undefined) {
      send(res, 404, 'text/plain; charset=utf-8', `no admin endpoint at ${path}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', `${req.method ?? 'this method'} is not allowed; use GET\n`);
      return;
    }
    await route(res);
  }

  private route(path: string): ((res: ServerResponse) => Promise<void>) | undefined {
    switch (path) {
      case '/healthz':
        return async (res) => send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
      case '/readyz':
        return (res) => this.readyz(res);
      case '/status': {
        const status = this.options.status;
        if (status === undefined) return undefined;
        return async (res) => send(res, 200, 'application/json', `${JSON.stringify(await status())}\n`);
      }
      case '/metrics': {
        const metrics = this.options.metrics;
        if (metrics === undefined) return undefined;
        return async (res) => {
          const { contentType, body } = await metrics();
          send(res, 200, contentType, body);
        };
      }
      default:
        return undefined;
    }
  }

  private async readyz(res: ServerResponse): Promise<void> {
    let readiness: Readiness;
    try {
      readiness = await this.options.readiness();
    } catch (err) {
      // A readiness check that fails is itself a reason not to take traffic.
      readiness = { ready: false, checks: { readiness: `check failed: ${(err as Error).message}` } };
    }
    const body = `${JSON.stringify({ ready: readiness.ready, checks: readiness.checks })}\n`;
    send(res, readiness.ready ? 200 : 503, 'application/json', body);
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  const bytes = Buffer.from(body);
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': bytes.length });
  // HEAD gets the same headers without a body.
  res.end(res.req.method === 'HEAD' ? undefined : bytes);
}
