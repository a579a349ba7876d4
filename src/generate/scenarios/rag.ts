import { SpanKind } from '@opentelemetry/api';
import { drawLatencyMs, type LatencyProfile } from '../latency.js';
import { appScope, SCOPES, TraceBuilder, type Datastore, type Scenario, type ServiceDefinition } from '../service-model.js';
import { PlannedSpan } from '../trace-plan.js';

/**
 * An AI request pipeline (retrieval-augmented generation): the API gateway takes a question
 * and walks it through embedding, vector search, document retrieval, context assembly, LLM
 * inference and response parsing, each its own service. Model calls carry the gen_ai.*
 * attributes of the OpenTelemetry GenAI conventions. A chat call lasts as a real one does: a
 * time to the first token plus `gen_ai.usage.output_tokens` times the model's time per token
 * (±15%), so its latency is tied to its output length. The provider sometimes rate-limits
 * (retried) or times out (fails the request).
 */
const cloud = { 'cloud.provider': 'aws', 'cloud.region': 'eu-west-1' };
const service = (name: string, version: string, port: number): ServiceDefinition => ({
  name,
  version,
  port,
  extraResource: cloud,
});

const SERVICES: readonly ServiceDefinition[] = [
  service('api-gateway', '4.2.0', 8080),
  service('query-embedding', '1.3.1', 8001),
  service('vector-search', '2.0.4', 8002),
  service('document-retrieval', '1.7.0', 8003),
  service('context-assembly', '1.1.2', 8004),
  service('llm-inference', '3.5.0', 8005),
  service('response-parsing', '1.0.9', 8006),
];
const byName = (name: string) => SERVICES.find((s) => s.name === name) as ServiceDefinition;

const VECTOR_DB: Datastore = {
  system: 'qdrant',
  host: 'qdrant',
  port: 6333,
  scope: appScope(byName('vector-search')),
};
const DOC_DB: Datastore = { system: 'postgresql', host: 'docs-db', port: 5432, namespace: 'knowledge', scope: SCOPES.pg };
const DOC_CACHE: Datastore = { system: 'redis', host: 'docs-cache', port: 6379, scope: SCOPES.ioredis };

const TINY: LatencyProfile = { medianMs: 0.1, sigma: 0.5 };
const HANDLER: LatencyProfile = { medianMs: 0.8, sigma: 0.5 };
const EMBED_API: LatencyProfile = { medianMs: 55, sigma: 0.5, tailShare: 0.03, tailAlpha: 1.5, capMs: 5000 };
const VECTOR_QUERY: LatencyProfile = { medianMs: 9, sigma: 0.6, tailShare: 0.03, tailAlpha: 1.6 };
const CACHE_OP: LatencyProfile = { medianMs: 0.5, sigma: 0.5 };
const DOC_QUERY: LatencyProfile = { medianMs: 4, sigma: 0.6, tailShare: 0.03, tailAlpha: 1.7 };
const RERANK: LatencyProfile = { medianMs: 30, sigma: 0.5, tailShare: 0.02 };
const GUARDRAILS: LatencyProfile = { medianMs: 8, sigma: 0.6, tailShare: 0.02 };
const TIME_TO_FIRST_TOKEN: LatencyProfile = { medianMs: 350, sigma: 0.5, tailShare: 0.04, tailAlpha: 1.5, capMs: 20_000 };
/** Output length in tokens: the same right-skewed, long-tailed shape as latency, so the same draw serves. */
const OUTPUT_TOKENS: LatencyProfile = { medianMs: 220, sigma: 0.6, tailShare: 0.02, capMs: 4096 };

/** Chat models with their per-output-token generation time (ms). */
const MODELS: readonly (readonly [model: string, version: string, msPerToken: number, weight: number])[] = [
  ['gpt-4o-mini', '2024-07-18', 9, 6],
  ['gpt-4o', '2024-08-06', 18, 3],
  ['gpt-4.1-mini', '2025-04-14', 8, 2],
];
const EMBEDDING_MODEL = 'text-embedding-3-small';
const MAX_TOKENS = 1024;
const CONTEXT_BUDGET = 6000;

class RagTrace {
  constructor(private readonly b: TraceBuilder) {}

  private genAi(
    service: string,
    operation: 'chat' | 'embeddings',
    model: string,
    attributes: Record<string, string | number | string[]>,
  ): PlannedSpan {
    return new PlannedSpan(service, SCOPES.openai, `${operation} ${model}`, SpanKind.CLIENT, {
      'gen_ai.operation.name': operation,
      'gen_ai.system': 'openai',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': model,
      'server.address': 'api.openai.com',
      'server.port': 443,
      ...attributes,
    });
  }

  embed(queryTokens: number): PlannedSpan {
    const { b } = this;
    const server = b.httpServer('query-embedding', 'POST', '/embed', '/embed');
    const call = this.genAi('query-embedding', 'embeddings', EMBEDDING_MODEL, {
      'gen_ai.response.model': EMBEDDING_MODEL,
      'gen_ai.usage.input_tokens': queryTokens,
      'gen_ai.embeddings.dimension.count': 1536,
    });
    const api = b.external('query-embedding', 'POST', 'https://api.openai.com/v1/embeddings', EMBED_API);
    call.work(b.latency(TINY)).call(api).work(b.latency(TINY));
    server.work(b.latency(TINY)).call(call).work(b.latency(TINY));
    return b.callOver('api-gateway', server);
  }

  search(topK: number): PlannedSpan {
    const { b } = this;
    const server = b.httpServer('vector-search', 'POST', '/search', '/search').set('app.search.top_k', topK);
    const query = b
      .query('vector-search', VECTOR_DB, 'search', 'knowledge_base', VECTOR_QUERY)
      .set('app.search.score_threshold', 0.72)
      .set('app.search.results', topK);
    server.work(b.latency(TINY)).call(query).work(b.latency(TINY));
    return b.callOver('api-gateway', server);
  }

  retrieve(documents: number): PlannedSpan {
    const { b } = this;
    const hits = b.rng.int(0, documents);
    const server = b
      .httpServer('document-retrieval', 'POST', '/documents:batchGet', '/documents:batchGet')
      .set('app.documents.requested', documents)
      .set('app.documents.cache_hits', hits);
    server.work(b.latency(TINY)).call(b.query('document-retrieval', DOC_CACHE, 'MGET', 'doc', CACHE_OP, 'MGET doc:? ...'));
    if (hits < documents) {
      server.call(
        b.query(
          'document-retrieval',
          DOC_DB,
          'SELECT',
          'documents',
          DOC_QUERY,
          'SELECT id, title, body, source_url FROM documents WHERE id = ANY($1)',
        ),
      );
    }
    server.work(b.latency(TINY));
    return b.callOver('api-gateway', server);
  }

  assemble(documents: number, contextTokens: number): PlannedSpan {
    const { b } = this;
    const server = b.httpServer('context-assembly', 'POST', '/assemble', '/assemble');
    const rerank = b
      .internal('context-assembly', 'rerank', {
        'app.rerank.model': 'bge-reranker-v2-m3',
        'app.rerank.candidates': documents,
        'app.rerank.kept': Math.min(documents, 5),
      })
      .work(b.latency(RERANK));
    const fit = b
      .internal('context-assembly', 'fit to token budget', {
        'app.context.tokens': contextTokens,
        'app.context.budget': CONTEXT_BUDGET,
      })
      .work(b.latency(TINY));
    server.work(b.latency(TINY)).call(rerank).call(fit).work(b.latency(TINY));
    return b.callOver('api-gateway', server);
  }

  /** One chat completion; `outcome` decides how the provider answers. */
  private chat(model: (typeof MODELS)[number], inputTokens: number, outcome: 'ok' | 'rate-limited' | 'timeout'): PlannedSpan {
    const { b } = this;
    const [name, version, msPerToken] = model;
    const call = this.genAi('llm-inference', 'chat', name, {
      'gen_ai.request.max_tokens': MAX_TOKENS,
      'gen_ai.request.temperature': 0.2,
      'gen_ai.usage.input_tokens': inputTokens,
    });
    // The API call lasts as long as the model takes to answer, which depends on the outcome.
    const api = b.external('llm-inference', 'POST', 'https://api.openai.com/v1/chat/completions');
    if (outcome === 'ok') {
      const output = Math.max(1, Math.min(Math.round(drawLatencyMs(b.rng, OUTPUT_TOKENS)), MAX_TOKENS));
      api.work(b.latency(TIME_TO_FIRST_TOKEN) + output * msPerToken * 1e6 * b.rng.between(0.85, 1.15));
      call
        .set('gen_ai.response.model', `${name}-${version}`)
        .set('gen_ai.response.id', `chatcmpl-${b.rng.hex(24)}`)
        .set('gen_ai.response.finish_reasons', [output >= MAX_TOKENS ? 'length' : 'stop'])
        .set('gen_ai.usage.output_tokens', output);
    } else if (outcome === 'rate-limited') {
      api.outcome = { key: 'http.response.status_code', ok: 200, failed: 429 };
      api.work(b.latency({ medianMs: 40, sigma: 0.4 }));
      b.raise(api, { type: 'RateLimitError', message: `429 Rate limit reached for ${name} in organization on tokens per min` });
    } else {
      api.work(30_000 * 1e6);
      b.raise(api, { type: 'APITimeoutError', message: 'Request timed out.' });
    }
    call.work(b.latency(TINY)).call(api).work(b.latency(TINY));
    b.propagate(call, [api]);
    if (api.exception) call.exception = api.exception;
    return call;
  }

  generate(inputTokens: number): PlannedSpan {
    const { b } = this;
    const model = b.rng.weighted(MODELS.map((m) => [m, m[3]] as const));
    const server = b.httpServer('llm-inference', 'POST', '/generate', '/generate').set('app.llm.model', model[0]);
    server.work(b.latency(HANDLER));
    const attempts: PlannedSpan[] = [];
    const roll = b.rng.float();
    if (roll < 0.008) {
      attempts.push(this.chat(model, inputTokens, 'timeout'));
    } else {
      if (roll < 0.05) {
        // Rate limited once, backed off, then answered: an error inside a successful request.
        attempts.push(this.chat(model, inputTokens, 'rate-limited'));
      }
      attempts.push(this.chat(model, inputTokens, 'ok'));
    }
    for (const [i, attempt] of attempts.entries()) {
      if (i > 0) server.work(b.rng.between(400, 1200) * 1e6);
      server.call(attempt);
    }
    server.work(b.latency(TINY));
    b.propagate(server, attempts.slice(-1));
    return b.callOver('api-gateway', server);
  }

  parse(): PlannedSpan {
    const { b } = this;
    const server = b.httpServer('response-parsing', 'POST', '/parse', '/parse');
    const parse = b
      .internal('response-parsing', 'parse completion', {
        'app.response.format': 'json',
        'app.response.citations': b.rng.int(0, 5),
      })
      .work(b.latency(TINY));
    const guard = b
      .internal('response-parsing', 'guardrails check', {
        'app.guardrails.policy': 'default-v3',
        'app.guardrails.flagged': b.rng.chance(0.01),
      })
      .work(b.latency(GUARDRAILS));
    if (b.rng.chance(0.008)) {
      b.raise(parse, { type: 'OutputParserException', message: 'could not parse LLM output as JSON: unexpected end of input' });
      server.work(b.latency(TINY)).call(parse);
    } else {
      server.work(b.latency(TINY)).call(parse).call(guard);
    }
    server.work(b.latency(TINY));
    b.propagate(server, [parse]);
    return b.callOver('api-gateway', server);
  }
}

export const ragScenario: Scenario = {
  name: 'rag',
  description: 'an AI request pipeline: gateway, embedding, vector search, retrieval, context, LLM, parsing (gen_ai.*)',
  namespace: 'answers',
  services: SERVICES,
  planTrace(rng) {
    const b = new TraceBuilder(rng, SERVICES);
    const rag = new RagTrace(b);
    const root = b.httpServer('api-gateway', 'POST', '/v1/answers', '/v1/answers', {
      'app.tenant.id': rng.pick(['acme', 'globex', 'initech', 'umbrella', 'hooli']),
      'app.conversation.id': rng.hex(16),
    });
    const auth = b
      .internal('api-gateway', 'authenticate', { 'enduser.id': `user-${rng.int(1, 20_000)}`, 'app.auth.method': 'jwt' }).work(b.latency(TINY));
    root.work(b.latency(TINY)).call(auth);

    const queryTokens = rng.int(8, 60);
    const topK = rng.pick([5, 8, 10, 20]);
    const contextTokens = Math.min(CONTEXT_BUDGET, topK * rng.int(250, 450));
    const stages: (() => PlannedSpan)[] = [
      () => rag.embed(queryTokens),
      () => rag.search(topK),
      () => rag.retrieve(topK),
      () => rag.assemble(topK, contextTokens),
      () => rag.generate(350 + queryTokens + contextTokens),
      () => rag.parse(),
    ];
    const calls: PlannedSpan[] = [];
    for (const stage of stages) {
      const call = stage();
      root.call(call).work(b.latency(TINY));
      calls.push(call);
      if (call.failed) break;
    }
    root.work(b.latency(HANDLER));
    b.propagate(root, calls);
    return root;
  },
};
