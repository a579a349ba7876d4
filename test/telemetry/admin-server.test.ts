import { afterEach, describe, expect, it } from 'vitest';
import { AdminServer, type AdminServerOptions, type Readiness } from '../../src/telemetry/admin-server.js';
import { silentLogger } from '../../src/telemetry/logger.js';

let admin: AdminServer | undefined;

afterEach(async () => {
  await admin?.stop();
  admin = undefined;
});

async function start(options: Partial<AdminServerOptions> = {}): Promise<string> {
  admin = new AdminServer({
    host: '127.0.0.1',
    port: 0,
    readiness: async () => ({ ready: true, checks: { buffer: 'ok' } }),
    logger: silentLogger,
    ...options,
  });
  const { host, port } = await admin.start();
  return `http://${host}:${port}`;
}

describe('AdminServer', () => {
  it('answers /healthz with ok', async () => {
    const base = await start();
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect((await res.text()).trim()).toBe('ok');
  });

  it('answers /readyz 200 with the checks when ready, 503 when not', async () => {
    let readiness: Readiness = { ready: true, checks: { buffer: 'ok', sink: 'ok' } };
    const base = await start({ readiness: async () => readiness });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, checks: { buffer: 'ok', sink: 'ok' } });

    readiness = { ready: false, checks: { buffer: 'unreachable: ECONNREFUSED', sink: 'ok' } };
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(notReady.headers.get('content-type')).toBe('application/json');
    expect(await notReady.json()).toEqual(readiness);
  });

  it('answers /readyz 503 when the readiness check itself fails', async () => {
    const base = await start({
      readiness: async () => {
        throw new Error('redis timeout');
      },
    });
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ ready: false, checks: { readiness: 'check failed: redis timeout' } });
  });

  it('serves /status from status(), awaiting a promise; 404 without it', async () => {
    const base = await start({ status: async () => ({ state: 'running', spans: { received: 12 } }) });
    const res = await fetch(`${base}/status`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ state: 'running', spans: { received: 12 } });
    await admin!.stop();

    const bare = await start();
    expect((await fetch(`${bare}/status`)).status).toBe(404);
  });

  it('serves /metrics when given, 404 otherwise and for unknown paths', async () => {
    const base = await start({ metrics: async () => ({ contentType: 'text/plain; version=0.0.4', body: 'tailsift_up 1\n' }) });
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4');
    expect(await metrics.text()).toBe('tailsift_up 1\n');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/healthz?verbose=1`)).status).toBe(200);
  });

  it('refuses other methods with 405 and answers HEAD without a body', async () => {
    const base = await start();
    const post = await fetch(`${base}/healthz`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(`${base}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('answers 500 when status() throws, and keeps serving', async () => {
    const base = await start({
      status: () => {
        throw new Error('boom');
      },
    });
    expect((await fetch(`${base}/status`)).status).toBe(500);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('stops idempotently and then refuses connections', async () => {
    const base = await start();
    await fetch(`${base}/healthz`);
    await Promise.all([admin!.stop(), admin!.stop()]);
    await admin!.stop();
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    await expect(admin!.start()).rejects.toThrow(/stopped/);
  });
});
