import { SpanKind, type AttributeValue, type Attributes } from '@opentelemetry/api';
import { SDK_INFO } from '@opentelemetry/core';
import { drawLatencyNs, type LatencyProfile } from './latency.js';
import type { Prng } from './prng.js';
import { PlannedSpan, type InstrumentationScope, type PlannedException } from './trace-plan.js';

/**
 * The small shared model of "service calls service" that every scenario is written in:
 * services with their resources, and functions that build the spans real instrumentation
 * produces for an HTTP or gRPC call, a database query, a published message.
 */

/** One service of a scenario; it gets its own tracer provider and Resource. */
export interface ServiceDefinition {
  readonly name: string;
  readonly version: string;
  /** Port the service listens on, used for `server.port` on calls to it. */
  readonly port: number;
  /** Resource attributes beyond the standard set, e.g. `k8s.namespace.name`. */
  readonly extraResource?: Attributes;
}

/** A synthetic workload: its services and how one trace through them looks. */
export interface Scenario {
  readonly name: string;
  /** One line for `--help`. */
  readonly description: string;
  /** `service.namespace` of every service. */
  readonly namespace: string;
  readonly services: readonly ServiceDefinition[];
  /** Plans one trace. Every random choice comes from `rng`, so the same stream gives the same trace. */
  planTrace(rng: Prng): PlannedSpan;
}

/** Instrumentation libraries as a Node.js service would load them. */
export const SCOPES = {
  http: { name: '@opentelemetry/instrumentation-http', version: '0.217.0' },
  grpc: { name: '@opentelemetry/instrumentation-grpc', version: '0.217.0' },
  undici: { name: '@opentelemetry/instrumentation-undici', version: '0.21.0' },
  pg: { name: '@opentelemetry/instrumentation-pg', version: '0.61.0' },
  ioredis: { name: '@opentelemetry/instrumentation-ioredis', version: '0.59.0' },
  kafkajs: { name: '@opentelemetry/instrumentation-kafkajs', version: '0.20.0' },
  openai: { name: '@opentelemetry/instrumentation-openai', version: '0.9.0' },
} as const satisfies Record<string, InstrumentationScope>;

/** The scope of a service's own hand-written spans. */
export function appScope(service: ServiceDefinition): InstrumentationScope {
  return { name: service.name, version: service.version };
}

/**
 * The 14 resource attributes every service reports (the Collector benchmark's count):
 * identity, deployment, host, process and SDK. Instance ids, host names and pids come from
 * `rng`, so a seed fixes them too.
 */
export function standardResource(namespace: string, service: ServiceDefinition, rng: Prng): Attributes {
  return {
    'service.name': service.name,
    'service.namespace': namespace,
    'service.version': service.version,
    'service.instance.id': uuid(rng),
    'deployment.environment.name': 'production',
    'host.name': `${service.name}-${rng.hex(10)}-${rng.hex(5)}`,
    'host.arch': 'amd64',
    'os.type': 'linux',
    'process.pid': rng.int(7, 65_000),
    'process.runtime.name': String(SDK_INFO['process.runtime.name']),
    // A fixed runtime version rather than this process's, so output does not depend on the machine.
    'process.runtime.version': '20.18.1',
    'telemetry.sdk.name': String(SDK_INFO['telemetry.sdk.name']),
    'telemetry.sdk.language': String(SDK_INFO['telemetry.sdk.language']),
    'telemetry.sdk.version': String(SDK_INFO['telemetry.sdk.version']),
  };
}

function uuid(rng: Prng): string {
  const h = rng.hex(32);
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** One-way network delay inside a cluster. */
const NETWORK: LatencyProfile = { medianMs: 0.25, sigma: 0.4, tailShare: 0.01, capMs: 20 };

/** A database or cache a service talks to. */
export interface Datastore {
  /** `db.system.name`, e.g. `postgresql`, `redis`. */
  readonly system: string;
  readonly host: string;
  readonly port: number;
  /** `db.namespace`, when the store has one. */
  readonly namespace?: string;
  readonly scope: InstrumentationScope;
}

/** Builds the spans of one trace; scenarios call it for every span they plan. */
export class TraceBuilder {
  private readonly services = new Map<string, ServiceDefinition>();

  constructor(
    readonly rng: Prng,
    services: readonly ServiceDefinition[],
    /** One-way network delay of a call between services. */
    private readonly network: LatencyProfile = NETWORK,
  ) {
    for (const service of services) this.services.set(service.name, service);
  }

  service(name: string): ServiceDefinition {
    const service = this.services.get(name);
    if (!service) throw new Error(`scenario uses unknown service ${name}`);
    return service;
  }

  /** A latency in nanoseconds drawn from `profile`. */
  latency(profile: LatencyProfile): number {
    return drawLatencyNs(this.rng, profile);
  }

  /** The server span of an inbound HTTP request. */
  httpServer(service: string, method: string, route: string, path: string, extra: Attributes = {}): PlannedSpan {
    const svc = this.service(service);
    const span = new PlannedSpan(service, SCOPES.http, `${method} ${route}`, SpanKind.SERVER, {
      'http.request.method': method,
      'http.route': route,
      'url.path': path,
      'url.scheme': 'http',
      'server.address': svc.name,
      'server.port': svc.port,
      'network.protocol.version': '1.1',
      'client.address': `10.42.${this.rng.int(0, 15)}.${this.rng.int(2, 254)}`,
      ...extra,
    });
    span.outcome = { key: 'http.response.status_code', ok: 200, failed: 500 };
    return span;
  }

  /** The server span of an inbound gRPC call, named `package.Service/Method`. */
  grpcServer(service: string, rpcService: string, method: string): PlannedSpan {
    const span = new PlannedSpan(service, SCOPES.grpc, `${rpcService}/${method}`, SpanKind.SERVER, {
      'rpc.system': 'grpc',
      'rpc.service': rpcService,
      'rpc.method': method,
    });
    span.outcome = { key: 'rpc.grpc.status_code', ok: 0, failed: 13 };
    return span;
  }

  /**
   * The caller's client span around a call to `server` in another service: network out, the
   * server's work, network back. It fails when the server failed, as the caller sees a 5xx.
   */
  callOver(caller: string, server: PlannedSpan): PlannedSpan {
    const callee = this.service(server.service);
    const isGrpc = server.attributes['rpc.system'] === 'grpc';
    let client: PlannedSpan;
    if (isGrpc) {
      client = new PlannedSpan(caller, SCOPES.grpc, server.name, SpanKind.CLIENT, {
        'rpc.system': 'grpc',
        'rpc.service': attr(server, 'rpc.service'),
        'rpc.method': attr(server, 'rpc.method'),
        'server.address': callee.name,
        'server.port': callee.port,
      });
      client.outcome = { key: 'rpc.grpc.status_code', ok: 0, failed: 14 };
    } else {
      const method = attr(server, 'http.request.method');
      client = new PlannedSpan(caller, SCOPES.http, String(method), SpanKind.CLIENT, {
        'http.request.method': method,
        'server.address': callee.name,
        'server.port': callee.port,
        'url.full': `http://${callee.name}:${callee.port}${String(attr(server, 'url.path'))}`,
        'network.protocol.version': '1.1',
      });
      client.outcome = { key: 'http.response.status_code', ok: 200, failed: 502 };
    }
    server.delayNs = this.latency(this.network);
    client.call(server).work(this.latency(this.network));
    if (server.failed) client.fail(`${callee.name} returned an error`);
    return client;
  }

  /** A query to a database or cache, named `<operation> <collection>`. */
  query(
    service: string,
    store: Datastore,
    operation: string,
    collection: string,
    profile: LatencyProfile,
    queryText?: string,
  ): PlannedSpan {
    const attributes: Attributes = {
      'db.system.name': store.system,
      'db.operation.name': operation,
      'db.collection.name': collection,
      'server.address': store.host,
      'server.port': store.port,
    };
    if (store.namespace) attributes['db.namespace'] = store.namespace;
    if (queryText) attributes['db.query.text'] = queryText;
    return new PlannedSpan(service, store.scope, `${operation} ${collection}`, SpanKind.CLIENT, attributes).work(
      this.latency(profile),
    );
  }

  /** A message published to a Kafka topic (the producer side only; consumers start their own work later). */
  publish(service: string, topic: string, broker: string, profile: LatencyProfile, key?: string): PlannedSpan {
    const span = new PlannedSpan(service, SCOPES.kafkajs, `send ${topic}`, SpanKind.PRODUCER, {
      'messaging.system': 'kafka',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.destination.name': topic,
      'server.address': broker,
      'server.port': 9092,
    });
    if (key !== undefined) span.set('messaging.kafka.message.key', key);
    return span.work(this.latency(profile));
  }

  /**
   * An HTTP call to something outside the system (a payment processor, a model provider's
   * API). Without `profile` the caller adds the span's work itself.
   */
  external(service: string, method: string, url: string, profile?: LatencyProfile): PlannedSpan {
    const target = new URL(url);
    const span = new PlannedSpan(service, SCOPES.undici, method, SpanKind.CLIENT, {
      'http.request.method': method,
      'url.full': url,
      'server.address': target.hostname,
      'server.port': target.port ? Number(target.port) : target.protocol === 'https:' ? 443 : 80,
      'network.protocol.version': '1.1',
    });
    span.outcome = { key: 'http.response.status_code', ok: 200, failed: 504 };
    return profile ? span.work(this.latency(profile)) : span;
  }

  /** A hand-written span for a step inside one service. */
  internal(service: string, name: string, attributes: Attributes = {}): PlannedSpan {
    return new PlannedSpan(service, appScope(this.service(service)), name, SpanKind.INTERNAL, attributes);
  }

  /** Marks `span` as where an error was raised: status ERROR and an exception event. */
  raise(span: PlannedSpan, exception: PlannedException): PlannedSpan {
    return span.fail(exception.message, exception);
  }

  /** Fails `parent` when one of `children` failed; the usual outcome when a caller does not recover. */
  propagate(parent: PlannedSpan, children: readonly PlannedSpan[]): boolean {
    const failed = children.find((child) => child.failed);
    if (failed && !parent.failed) parent.fail(failed.errorMessage ?? 'dependency failed');
    return failed !== undefined;
  }
}

function attr(span: PlannedSpan, key: string): AttributeValue {
  const value = span.attributes[key];
  if (value === undefined) throw new Error(`span ${span.name} has no ${key}`);
  return value;
}
