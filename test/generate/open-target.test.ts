import { describe, expect, it } from 'vitest';
import { parseTarget } from '../../src/generate/targets/open-target.js';

describe('parseTarget', () => {
  it('appends /v1/traces to an OTLP/HTTP base URL, once', () => {
    const spec = parseTarget('http://127.0.0.1:4318');
    expect(spec.kind).toBe('otlp-http');
    expect(spec.kind === 'otlp-http' && spec.endpoint.href).toBe('http://127.0.0.1:4318/v1/traces');
    const full = parseTarget('http://127.0.0.1:4318/v1/traces');
    expect(full.kind === 'otlp-http' && full.endpoint.href).toBe('http://127.0.0.1:4318/v1/traces');
    const prefixed = parseTarget('http://collector:4318/otlp/');
    expect(prefixed.kind === 'otlp-http' && prefixed.endpoint.href).toBe('http://collector:4318/otlp/v1/traces');
  });

  it('reads Kafka brokers, topic, key and encoding', () => {
    expect(parseTarget('kafka://127.0.0.1:9092/otlp_spans')).toEqual({
      kind: 'kafka',
      brokers: ['127.0.0.1:9092'],
      topic: 'otlp_spans',
      keyByTraceId: false,
      encoding: 'otlp_proto',
    });
    expect(parseTarget('kafka://a:9092,b:9093/spans?key=trace_id&encoding=otlp_json')).toEqual({
      kind: 'kafka',
      brokers: ['a:9092', 'b:9093'],
      topic: 'spans',
      keyByTraceId: true,
      encoding: 'otlp_json',
    });
  });

  it('reads file targets in both spellings', () => {
    expect(parseTarget('file:out/traces.jsonl')).toEqual({ kind: 'file', path: 'out/traces.jsonl' });
    expect(parseTarget('file:///tmp/traces.jsonl')).toEqual({ kind: 'file', path: '/tmp/traces.jsonl' });
  });

  it.each([
    ['ftp://host/x', 'expected http://HOST:PORT'],
    ['kafka://127.0.0.1:9092', 'expected kafka://HOST:PORT'],
    ['kafka:///spans', 'no broker given'],
    ['kafka://broker/spans', 'broker "broker" is not HOST:PORT'],
    ['kafka://b:9092/bad topic', 'topic "bad topic" is not a Kafka topic name'],
    ['kafka://b:9092/spans?key=span_id', 'key=span_id is not supported'],
    ['kafka://b:9092/spans?encoding=jaeger_proto', 'encoding=jaeger_proto must be otlp_proto or otlp_json'],
    ['kafka://b:9092/spans?partition=1', 'unknown parameter "partition"'],
    ['file:', 'no path after file:'],
    ['http://127.0.0.1:4318/?x=1', 'takes no query'],
  ])('rejects %s', (text, reason) => {
    expect(() => parseTarget(text)).toThrow(reason);
  });
});
