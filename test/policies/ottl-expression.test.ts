import { describe, expect, it } from 'vitest';
import { OttlSyntaxError, evaluateOttl, parseOttlCondition } from '../../src/policies/ottl-expression.js';
import type { OttlContext } from '../../src/policies/ottl-expression.js';
import { makeSpan } from '../support/trace-builder.js';

const span = makeSpan({
  name: 'GET /checkout',
  kind: 2,
  statusCode: 2,
  traceState: 'rojo=00f067aa0ba902b7,congo=t61',
  flags: 1,
  attributes: {
    'http.route': '/checkout/{id}',
    'http.response.status_code': 503,
    'app.ratio': 0.25,
    'app.cache_hit': false,
    'app.tags': ['a', 'b'],
    'app.user': { tier: 'gold', id: 7 },
  },
  resource: { 'service.name': 'checkout', 'deployment.environment.name': 'prod' },
  events: [{ name: 'exception', timeMs: 0, attributes: new Map([['exception.type', 'TimeoutError']]) }],
});
const event = span.events()[0];

function check(condition: string, context: OttlContext = 'span'): boolean {
  return evaluateOttl(parseOttlCondition(condition, context), { span, event: context === 'spanevent' ? event : undefined });
}

describe('OTTL conditions on spans', () => {
  it.each<[string, boolean]>([
    ['name == "GET /checkout"', true],
    ['name != "GET /checkout"', false],
    ['span.name == "GET /checkout"', true],
    ['kind == SPAN_KIND_SERVER', true],
    ['kind == SPAN_KIND_CLIENT', false],
    ['status.code == STATUS_CODE_ERROR', true],
    ['status.code != STATUS_CODE_OK', true],
    ['attributes["http.route"] == "/checkout/{id}"', true],
    ['attributes["http.response.status_code"] >= 500', true],
    ['attributes["http.response.status_code"] < 500', false],
    ['attributes["http.response.status_code"] == 503.0', true],
    ['attributes["app.ratio"] > 0.2 and attributes["app.ratio"] <= 0.25', true],
    ['attributes["app.cache_hit"] == false', true],
    ['attributes["missing"] == nil', true],
    ['attributes["http.route"] == nil', false],
    ['attributes["missing"] != nil', false],
    ['attributes["http.response.status_code"] == "503"', false],
    ['attributes["http.response.status_code"] != "503"', true],
    ['attributes["http.route"] > 5', false],
    ['attributes["app.tags"][1] == "b"', true],
    ['attributes["app.user"]["tier"] == "gold"', true],
    ['attributes["app.user"]["missing"]["deeper"] == nil', true],
    ['resource.attributes["service.name"] == "checkout"', true],
    ['resource.attributes["service.name"] == "cart" or kind == SPAN_KIND_SERVER', true],
    ['not (resource.attributes["service.name"] == "cart")', true],
    ['not resource.attributes["service.name"] == "checkout"', false],
    ['status.code == STATUS_CODE_ERROR and (name == "x" or attributes["http.route"] == "/checkout/{id}")', true],
    ['IsMatch(attributes["http.route"], "^/checkout/")', true],
    ['IsMatch(attributes["http.route"], "^/cart")', false],
    ['IsMatch(attributes["http.response.status_code"], "^5\\\\d\\\\d$")', true],
    ['IsMatch(attributes["missing"], ".*")', false],
    ['IsString(attributes["http.route"]) and IsInt(attributes["http.response.status_code"])', true],
    ['IsDouble(attributes["app.ratio"]) and IsBool(attributes["app.cache_hit"])', true],
    ['IsList(attributes["app.tags"]) and IsMap(attributes["app.user"])', true],
    ['trace_state["rojo"] == "00f067aa0ba902b7"', true],
    ['trace_state == "rojo=00f067aa0ba902b7,congo=t61"', true],
    ['flags == 1', true],
    ['trace_id.string == "4bf92f3577b34da6a3ce929d0e0e4736"', true],
    ['parent_span_id.string == ""', true],
    ['true', true],
    ['attributes["http.route"]', false],
  ])('%s → %s', (condition, expected) => {
    expect(check(condition)).toBe(expected);
  });
});

describe('OTTL conditions on span events', () => {
  it.each<[string, boolean]>([
    ['name == "exception"', true],
    ['spanevent.name != "exception"', false],
    ['attributes["exception.type"] == "TimeoutError"', true],
    ['span.name == "GET /checkout" and attributes["exception.type"] != nil', true],
    ['span.attributes["http.route"] == "/checkout/{id}"', true],
    ['resource.attributes["service.name"] == "checkout"', true],
  ])('%s → %s', (condition, expected) => {
    expect(check(condition, 'spanevent')).toBe(expected);
  });
});

describe('OTTL parse errors', () => {
  it.each<[string, OttlContext, string, number]>([
    ['name == ', 'span', 'expected a value, found the end of the condition', 9],
    ['name = "x"', 'span', 'unexpected character "="', 6],
    ['attributes["a"] == "x', 'span', 'unterminated string', 20],
    ['duration > 5', 'span', 'path duration is not in tailsift\'s OTTL subset for the span context; available:', 1],
    ['attributes == nil', 'span', 'attributes needs a key, e.g. attributes["http.route"]', 1],
    ['span.name == "x" and', 'spanevent', 'expected a value, found the end of the condition', 21],
    ['kind == SPAN_KIND_SERVR', 'span', 'unknown enum SPAN_KIND_SERVR; known:', 9],
    ['ParseJSON(name) == nil', 'span', 'function ParseJSON is not in tailsift\'s OTTL subset; available: IsMatch, IsString, IsInt, IsDouble, IsBool, IsMap, IsList', 1],
    ['IsMatch(name)', 'span', 'IsMatch takes 2 arguments, got 1', 1],
    ['IsMatch(name, "(")', 'span', 'invalid regex "(": missing closing )', 1],
    ['IsMatch(name, attributes["p"])', 'span', 'IsMatch needs its pattern as a string literal', 1],
    ['(name == "x"', 'span', 'expected ")", found the end of the condition', 13],
    ['name == "x" name', 'span', 'unexpected "name"', 13],
    ['attributes["a"] == "\\q"', 'span', 'unknown escape "\\q" in string', 21],
  ])('%s', (condition, context, message, column) => {
    let error: unknown;
    try {
      parseOttlCondition(condition, context);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(OttlSyntaxError);
    expect((error as OttlSyntaxError).message.startsWith(message)).toBe(true);
    expect((error as OttlSyntaxError).column).toBe(column);
  });
});
