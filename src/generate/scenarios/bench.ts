import type { LatencyProfile } from '../latency.js';
import type { Prng } from '../prng.js';
import { SCOPES, TraceBuilder, type Datastore, type Scenario, type ServiceDefinition } from '../service-model.js';
import type { PlannedSpan } from '../trace-plan.js';

/**
 * The shape of the OpenTelemetry Collector's tail-sampling benchmark: 4 services with 14
 * resource attributes each, trace sizes drawn evenly from 1/2/4/8/16/48 spans, 10% of traces
 * slow and 5% with an error.
 *
 * "Slow" is exact, so a latency policy's share can be checked: the work of every span is
 * capped so that no normal trace reaches 1 s (at most about 0.35 s with 48 spans), and a slow
 * trace has one span that works 1–3 s longer.
 */
export const TRACE_SIZES = [1, 2, 4, 8, 16, 48] as const;
export const SLOW_SHARE = 0.1;
export const ERROR_SHARE = 0.05;
/** Every slow trace lasts at least this long, and no other trace does. */
export const SLOW_THRESHOLD_MS = 1000;

const SERVICES: readonly ServiceDefinition[] = [
  { name: 'gateway', version: '1.8.2', port: 8080 },
  { name: 'orders', version: '3.1.0', port: 8081 },
  { name: 'inventory', version: '2.4.7', port: 8082 },
  { name: 'accounts', version: '1.12.0', port: 8083 },
];

const POSTGRES: Datastore = { system: 'postgresql', host: 'bench-db', port: 5432, namespace: 'bench', scope: SCOPES.pg };
const REDIS: Datastore = { system: 'redis', host: 'bench-cache', port: 6379, scope: SCOPES.ioredis };

const SELF: LatencyProfile = { medianMs: 0.4, sigma: 0.6, tailShare: 0.03, tailAlpha: 1.8, capMs: 2 };
const GAP: LatencyProfile = { medianMs: 0.05, sigma: 0.5, capMs: 0.5 };
const QUERY: LatencyProfile = { medianMs: 0.8, sigma: 0.7, tailShare: 0.03, tailAlpha: 1.6, capMs: 3 };
const NETWORK: LatencyProfile = { medianMs: 0.2, sigma: 0.3, tailShare: 0.01, capMs: 1.5 };

const ROUTES: Record<string, readonly (readonly [method: string, route: string, path: (rng: Prng) => string])[]> = {
  gateway: [
    ['GET', '/api/orders/{id}', (rng) => `/api/orders/${rng.int(10_000, 99_999)}`],
    ['POST', '/api/orders', () => '/api/orders'],
    ['GET', '/api/catalog', () => '/api/catalog'],
  ],
  orders: [
    ['GET', '/orders/{id}', (rng) => `/orders/${rng.int(10_000, 99_999)}`],
    ['POST', '/orders', () => '/orders'],
  ],
  inventory: [
    ['GET', '/stock/{sku}', (rng) => `/stock/SKU-${rng.int(1000, 9999)}`],
    ['POST', '/reservations', () => '/reservations'],
  ],
  accounts: [
    ['GET', '/accounts/{id}', (rng) => `/accounts/${rng.int(1, 500_000)}`],
    ['GET', '/profiles/me', () => '/profiles/me'],
  ],
};

const QUERIES: Record<string, readonly (readonly [Datastore, string, string, string])[]> = {
  gateway: [[REDIS, 'GET', 'token', 'GET token:?']],
  orders: [
    [POSTGRES, 'SELECT', 'orders', 'SELECT id, status, total FROM orders WHERE id = $1'],
    [POSTGRES, 'INSERT', 'order_items', 'INSERT INTO order_items (order_id, sku, qty) VALUES ($1, $2, $3)'],
  ],
  inventory: [
    [POSTGRES, 'SELECT', 'stock', 'SELECT sku, available FROM stock WHERE sku = ANY($1)'],
    [POSTGRES, 'UPDATE', 'stock', 'UPDATE stock SET reserved = reserved + $2 WHERE sku = $1'],
  ],
  accounts: [[REDIS, 'HGETALL', 'account', 'HGETALL account:?']],
};

const EXCEPTIONS = [
  { type: 'QueryTimeoutError', message: 'canceling statement due to statement timeout' },
  { type: 'ValidationError', message: 'quantity must be positive' },
  { type: 'ConnectionError', message: 'connect ECONNREFUSED 10.42.3.17:5432' },
];

class BenchTrace {
  private created = 0;

  constructor(
    private readonly b: TraceBuilder,
    /** Index (in creation order) of the span that gets the slow work, or -1. */
    private readonly slowIndex: number,
    /** Index of the span that raises the error, or -1. */
    private readonly errorIndex: number,
  ) {}

  /** Counts a new span and applies the trace's slow work or error if it is the chosen one. */
  private made(span: PlannedSpan): PlannedSpan {
    const index = this.created++;
    if (index === this.slowIndex) span.work(this.b.rng.between(1000, 3000) * 1e6);
    if (index === this.errorIndex) this.b.raise(span, this.b.rng.pick(EXCEPTIONS));
    return span;
  }

  server(service: string): PlannedSpan {
    const [method, route, path] = this.b.rng.pick(ROUTES[service]);
    return this.made(this.b.httpServer(service, method, route, path(this.b.rng)));
  }

  /** Adds exactly `budget` spans under `server`: calls to other services (2 spans each) and leaves. */
  fill(server: PlannedSpan, budget: number, depth: number): void {
    const { b } = this;
    server.work(b.latency(SELF));
    const children: PlannedSpan[] = [];
    let left = budget;
    while (left > 0) {
      if (left >= 2 && depth < 3 && b.rng.chance(0.5)) {
        const others = SERVICES.filter((s) => s.name !== server.service);
        const callee = this.server(b.rng.pick(others).name);
        const below = b.rng.int(0, Math.min(left - 2, 14));
        this.fill(callee, below, depth + 1);
        const client = this.made(b.callOver(server.service, callee));
        left -= 2 + below;
        children.push(client);
      } else {
        children.push(this.made(this.leaf(server.service)));
        left -= 1;
      }
    }
    // Independent lookups go out together; the rest run one after another.
    if (children.length >= 3 && b.rng.chance(0.3)) {
      server.parallel(children);
    } else {
      for (const child of children) server.call(child).work(b.latency(GAP));
    }
    server.work(b.latency(SELF));
    b.propagate(server, children);
  }

  private leaf(service: string): PlannedSpan {
    const { b } = this;
    if (b.rng.chance(0.6)) {
      const [store, operation, collection, text] = b.rng.pick(QUERIES[service]);
      return b.query(service, store, operation, collection, QUERY, text);
    }
    return b
      .internal(service, b.rng.pick(['validate', 'serialize response', 'compute totals', 'check permissions']), {
        'app.items': b.rng.int(1, 20),
        'app.cache.hit': b.rng.chance(0.7),
      })
      .work(b.latency(SELF));
  }
}

export const benchScenario: Scenario = {
  name: 'bench',
  description: "the Collector benchmark's shape: 4 services, 1/2/4/8/16/48-span traces, 10% slow, 5% errors",
  namespace: 'bench',
  services: SERVICES,
  planTrace(rng) {
    const b = new TraceBuilder(rng, SERVICES, NETWORK);
    const size = rng.pick(TRACE_SIZES);
    const slowIndex = rng.chance(SLOW_SHARE) ? rng.int(0, size - 1) : -1;
    const errorIndex = rng.chance(ERROR_SHARE) ? rng.int(0, size - 1) : -1;
    const trace = new BenchTrace(b, slowIndex, errorIndex);
    const root = trace.server('gateway');
    trace.fill(root, size - 1, 0);
    return root;
  },
};
