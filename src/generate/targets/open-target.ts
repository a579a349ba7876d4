import { fileURLToPath } from 'node:url';
import type { Logger } from '../../telemetry/logger.js';
import { GenerateUsageError } from '../usage-error.js';
import { FileTarget } from './file-target.js';
import { kafkajsPublisher, type KafkaPublisherFactory } from './kafka-publisher.js';
import { KafkaTarget, type KafkaTargetConfig } from './kafka-target.js';
import { OtlpHttpTarget } from './otlp-http-target.js';
import type { RetryPolicy } from './retry.js';
import type { TraceTarget } from './trace-target.js';

/** A `--target` URL, understood. */
export type TargetSpec =
  | { readonly kind: 'otlp-http'; readonly endpoint: URL }
  | ({ readonly kind: 'kafka' } & KafkaTargetConfig)
  | { readonly kind: 'file'; readonly path: string };

const TARGET_FORMS = 'http://HOST:PORT, kafka://HOST:PORT[,HOST:PORT]/TOPIC[?key=trace_id] or file:PATH';
const BROKER = /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/;
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

/** Parses `--target`; a GenerateUsageError names what is wrong. */
export function parseTarget(text: string): TargetSpec {
  const bad = (reason: string): never => {
    throw new GenerateUsageError(`--target ${JSON.stringify(text)}: ${reason}`);
  };
  if (/^https?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return bad('not a valid URL');
    }
    if (url.search || url.hash) bad('an OTLP/HTTP endpoint takes no query or fragment');
    // Like OTEL_EXPORTER_OTLP_ENDPOINT: a base URL gets the signal path appended.
    if (!url.pathname.endsWith('/v1/traces')) url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
    return { kind: 'otlp-http', endpoint: url };
  }
  if (/^kafka:\/\//i.test(text)) {
    const match = /^kafka:\/\/([^/?#]*)\/([^?#]*)(?:\?([^#]*))?$/i.exec(text);
    if (!match) return bad('expected kafka://HOST:PORT[,HOST:PORT]/TOPIC[?key=trace_id&encoding=otlp_proto|otlp_json]');
    const [, brokerList, topic, query = ''] = match;
    const brokers = brokerList.split(',').filter((b) => b !== '');
    if (brokers.length === 0) bad('no broker given; expected HOST:PORT before the topic');
    for (const broker of brokers) if (!BROKER.test(broker)) bad(`broker ${JSON.stringify(broker)} is not HOST:PORT`);
    if (!TOPIC.test(topic)) bad(`topic ${JSON.stringify(topic)} is not a Kafka topic name (letters, digits, . _ -)`);
    let keyByTraceId = false;
    let encoding: KafkaTargetConfig['encoding'] = 'otlp_proto';
    for (const [key, value] of new URLSearchParams(query)) {
      if (key === 'key') {
        if (value !== 'trace_id') bad(`key=${value} is not supported; the only key is trace_id`);
        keyByTraceId = true;
      } else if (key === 'encoding') {
        if (value !== 'otlp_proto' && value !== 'otlp_json') bad(`encoding=${value} must be otlp_proto or otlp_json`);
        encoding = value as KafkaTargetConfig['encoding'];
      } else {
        bad(`unknown parameter ${JSON.stringify(key)}; expected key=trace_id or encoding=`);
      }
    }
    return { kind: 'kafka', brokers, topic, keyByTraceId, encoding };
  }
  if (/^file:/i.test(text)) {
    let path: string;
    try {
      path = /^file:\/\//i.test(text) ? fileURLToPath(text) : text.slice('file:'.length);
    } catch {
      return bad('not a valid file URL');
    }
    if (path === '') bad('no path after file:');
    return { kind: 'file', path };
  }
  return bad(`expected ${TARGET_FORMS}`);
}

export interface TargetDependencies {
  readonly retry: RetryPolicy;
  readonly logger: Logger;
  /** Makes the Kafka producer; kafkajs unless replaced (tests). */
  readonly kafkaPublisher?: KafkaPublisherFactory;
}

export function createTarget(spec: TargetSpec, deps: TargetDependencies): TraceTarget {
  switch (spec.kind) {
    case 'otlp-http':
      return new OtlpHttpTarget(spec.endpoint, deps.retry);
    case 'file':
      return new FileTarget(spec.path);
    case 'kafka': {
      const publisher = (deps.kafkaPublisher ?? ((brokers) => kafkajsPublisher(brokers, deps.logger)))(spec.brokers);
      return new KafkaTarget(spec, publisher, deps.retry);
    }
  }
}
