import type { LatencyProfile } from '../latency.js';
import { SCOPES, TraceBuilder, type Datastore, type Scenario, type ServiceDefinition } from '../service-model.js';
import type { PlannedSpan } from '../trace-plan.js';

/**
 * A microservice web shop in the style of the OpenTelemetry demo: an HTTP frontend calling
 * gRPC services, with fan-out (currency conversions, recommendations next to the product
 * lookup), a Redis cart, a PostgreSQL catalog, a Kafka topic for placed orders, and an
 * external payment processor that is slow and sometimes fails.
 */
const k8s = (name: string) => ({ 'k8s.namespace.name': 'shop', 'k8s.deployment.name': name });
const service = (name: string, version: string, port: number): ServiceDefinition => ({
  name,
  version,
  port,
  extraResource: k8s(name),
});

const SERVICES: readonly ServiceDefinition[] = [
  service('frontend', '2.14.0', 8080),
  service('product-catalog', '1.9.3', 3550),
  service('currency', '1.4.1', 7001),
  service('cart', '3.0.2', 7070),
  service('recommendation', '1.2.8', 9001),
  service('ad', '0.9.4', 9555),
  service('checkout', '2.6.0', 5050),
  service('payment', '1.11.5', 50051),
  service('shipping', '1.3.0', 50052),
  service('email', '0.8.1', 6060),
];

const CATALOG_DB: Datastore = {
  system: 'postgresql',
  host: 'catalog-db',
  port: 5432,
  namespace: 'catalog',
  scope: SCOPES.pg,
};
const CART_CACHE: Datastore = { system: 'redis', host: 'valkey-cart', port: 6379, scope: SCOPES.ioredis };

const TINY: LatencyProfile = { medianMs: 0.08, sigma: 0.5 };
const HANDLER: LatencyProfile = { medianMs: 0.6, sigma: 0.5 };
const PG_LOOKUP: LatencyProfile = { medianMs: 1.4, sigma: 0.6, tailShare: 0.03, tailAlpha: 1.7 };
const PG_SCAN: LatencyProfile = { medianMs: 4, sigma: 0.5, tailShare: 0.03, tailAlpha: 1.7 };
const REDIS_OP: LatencyProfile = { medianMs: 0.35, sigma: 0.5, tailShare: 0.02, tailAlpha: 1.8 };
const CONVERT: LatencyProfile = { medianMs: 0.15, sigma: 0.4 };
const RECOMMEND: LatencyProfile = { medianMs: 2.5, sigma: 0.6, tailShare: 0.03 };
const ADS: LatencyProfile = { medianMs: 1.2, sigma: 0.6, tailShare: 0.02 };
const SHIPPING: LatencyProfile = { medianMs: 0.9, sigma: 0.5, tailShare: 0.02 };
// The payment processor is a third party: slow, spread out, with a heavy tail.
const CHARGE: LatencyProfile = { medianMs: 45, sigma: 0.6, tailShare: 0.04, tailAlpha: 1.4, capMs: 8000 };
const EMAIL: LatencyProfile = { medianMs: 12, sigma: 0.7, tailShare: 0.03 };
const PUBLISH: LatencyProfile = { medianMs: 2, sigma: 0.6, tailShare: 0.02 };

const PRODUCT_IDS = ['OLJCESPC7Z', '66VCHSJNUP', '1YMWWN1N4O', 'L9ECAV7KIM', '2ZYFJ3GM2N', '0PUK6V6EV0', 'LS4PSXUNUM', '9SIQT8TOJO', '6E92ZMYYFZ', 'HQTGWGPNH4'];
const CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY', 'CAD', 'CHF'];

class ShopTrace {
  constructor(private readonly b: TraceBuilder) {}

  private get rng() {
    return this.b.rng;
  }

  getProduct(caller: string, id: string): PlannedSpan {
    const { b } = this;
    const server = b.grpcServer('product-catalog', 'oteldemo.ProductCatalogService', 'GetProduct').set('app.product.id', id);
    const query = b.query(
      'product-catalog',
      CATALOG_DB,
      'SELECT',
      'products',
      PG_LOOKUP,
      'SELECT id, name, description, picture, price_usd, categories FROM products WHERE id = $1',
    );
    if (this.rng.chance(0.004)) {
      b.raise(query, { type: 'QueryTimeoutError', message: 'canceling statement due to statement timeout' });
    }
    server.work(b.latency(TINY)).call(query).work(b.latency(TINY));
    b.propagate(server, [query]);
    return b.callOver(caller, server);
  }

  listProducts(caller: string): PlannedSpan {
    const { b } = this;
    const query = b.query(
      'product-catalog',
      CATALOG_DB,
      'SELECT',
      'products',
      PG_SCAN,
      'SELECT id, name, description, picture, price_usd, categories FROM products ORDER BY id',
    );
    const server = b
      .grpcServer('product-catalog', 'oteldemo.ProductCatalogService', 'ListProducts')
      .set('app.products.count', PRODUCT_IDS.length);
    server.work(b.latency(TINY)).call(query).work(b.latency(TINY));
    return b.callOver(caller, server);
  }

  convert(caller: string, to: string): PlannedSpan {
    const { b } = this;
    const server = b
      .grpcServer('currency', 'oteldemo.CurrencyService', 'Convert')
      .set('app.currency.conversion.from', 'USD')
      .set('app.currency.conversion.to', to)
      .work(b.latency(CONVERT));
    if (this.rng.chance(0.002)) b.raise(server, { type: 'RangeError', message: `unsupported currency ${to}` });
    return b.callOver(caller, server);
  }

  recommendations(caller: string, exclude: string): PlannedSpan {
    const { b } = this;
    const server = b
      .grpcServer('recommendation', 'oteldemo.RecommendationService', 'ListRecommendations')
      .set('app.products_recommended.count', 5)
      .set('app.recommendation.cache_enabled', false);
    server.work(b.latency(RECOMMEND)).call(this.listProducts('recommendation')).work(b.latency(TINY));
    if (exclude) server.set('app.product.id', exclude);
    if (this.rng.chance(0.01)) {
      b.raise(server, { type: 'grpc.RpcError', message: 'StatusCode.UNAVAILABLE: failed to connect to all addresses' });
    }
    return b.callOver(caller, server);
  }

  ads(caller: string): PlannedSpan {
    const { b } = this;
    const server = b
      .grpcServer('ad', 'oteldemo.AdService', 'GetAds')
      .set('app.ads.contextKeys', this.rng.pick(['binoculars', 'telescopes', 'accessories']))
      .set('app.ads.count', this.rng.int(1, 3))
      .work(b.latency(ADS));
    if (this.rng.chance(0.02)) b.raise(server, { type: 'io.grpc.StatusRuntimeException', message: 'RESOURCE_EXHAUSTED' });
    return b.callOver(caller, server);
  }

  cart(caller: string, method: 'GetCart' | 'AddItem' | 'EmptyCart', userId: string): PlannedSpan {
    const { b } = this;
    const server = b.grpcServer('cart', 'oteldemo.CartService', method).set('app.user.id', userId);
    server.work(b.latency(TINY));
    const key = `cart:${userId}`;
    if (method === 'GetCart') {
      server.call(b.query('cart', CART_CACHE, 'HGETALL', 'cart', REDIS_OP, `HGETALL ${key}`));
    } else if (method === 'AddItem') {
      server
        .call(b.query('cart', CART_CACHE, 'HSET', 'cart', REDIS_OP, `HSET ${key} ? ?`))
        .call(b.query('cart', CART_CACHE, 'EXPIRE', 'cart', REDIS_OP, `EXPIRE ${key} 3600`));
    } else {
      server.call(b.query('cart', CART_CACHE, 'DEL', 'cart', REDIS_OP, `DEL ${key}`));
    }
    server.work(b.latency(TINY));
    return b.callOver(caller, server);
  }

  shipping(caller: string, method: 'GetQuote' | 'ShipOrder', items: number): PlannedSpan {
    const { b } = this;
    const server = b
      .grpcServer('shipping', 'oteldemo.ShippingService', method)
      .set('app.shipping.items.count', items)
      .work(b.latency(SHIPPING));
    if (method === 'ShipOrder') server.set('app.shipping.tracking.id', `${this.rng.hex(8)}-${this.rng.hex(4)}`);
    else server.set('app.shipping.cost.total', Math.round(this.rng.between(4, 30) * 100) / 100);
    return b.callOver(caller, server);
  }

  charge(caller: string, amount: number): PlannedSpan {
    const { b } = this;
    const server = b
      .grpcServer('payment', 'oteldemo.PaymentService', 'Charge')
      .set('app.payment.amount', amount)
      .set('app.payment.currency', 'USD')
      .set('app.payment.card_type', this.rng.weighted([['visa', 6], ['mastercard', 3], ['amex', 1]]))
      .set('app.payment.card_valid', true);
    const processor = b.external('payment', 'POST', 'https://api.stripe.com/v1/charges', CHARGE);
    server.work(b.latency(HANDLER)).call(processor).work(b.latency(TINY));
    if (this.rng.chance(0.025)) {
      b.raise(processor, { type: 'TimeoutError', message: 'payment processor did not answer within 10s' });
      b.propagate(server, [processor]);
    }
    return b.callOver(caller, server);
  }

  email(caller: string, orderId: string): PlannedSpan {
    const { b } = this;
    const server = b
      .httpServer('email', 'POST', '/send_order_confirmation', '/send_order_confirmation')
      .set('app.order.id', orderId)
      .work(b.latency(EMAIL));
    return b.callOver(caller, server);
  }

  /** checkout.PlaceOrder: the long sequential flow; stops at the first failure like the demo's service. */
  placeOrder(caller: string, userId: string): PlannedSpan {
    const { b, rng } = this;
    const orderId = `${rng.hex(8)}-${rng.hex(4)}-${rng.hex(4)}`;
    const items = rng.int(1, 4);
    const server = b
      .grpcServer('checkout', 'oteldemo.CheckoutService', 'PlaceOrder')
      .set('app.user.id', userId)
      .set('app.user.currency', rng.pick(CURRENCIES))
      .set('app.order.items.count', items);
    server.work(b.latency(HANDLER));
    const steps: PlannedSpan[] = [];
    const step = (span: PlannedSpan): boolean => {
      server.call(span).work(b.latency(TINY));
      steps.push(span);
      return !span.failed;
    };
    let ok = step(this.cart('checkout', 'GetCart', userId));
    for (let i = 0; ok && i < items; i++) ok = step(this.getProduct('checkout', rng.pick(PRODUCT_IDS)));
    if (ok) {
      const conversions = Array.from({ length: items }, () => this.convert('checkout', 'USD'));
      server.parallel(conversions);
      steps.push(...conversions);
      ok = !conversions.some((c) => c.failed);
    }
    if (ok) ok = step(this.shipping('checkout', 'GetQuote', items));
    const amount = Math.round(rng.between(9, 450) * 100) / 100;
    if (ok) ok = step(this.charge('checkout', amount));
    if (ok) ok = step(this.shipping('checkout', 'ShipOrder', items));
    if (ok) ok = step(this.cart('checkout', 'EmptyCart', userId));
    if (ok) {
      server.set('app.order.id', orderId).set('app.order.amount', amount);
      step(b.publish('checkout', 'orders', 'kafka', PUBLISH, orderId));
      step(this.email('checkout', orderId));
    }
    server.work(b.latency(TINY));
    b.propagate(server, steps);
    return b.callOver(caller, server);
  }
}

type Page = 'home' | 'product' | 'add-to-cart' | 'view-cart' | 'checkout';

export const shopScenario: Scenario = {
  name: 'shop',
  description: 'a microservice web shop: HTTP frontend, 9 gRPC/HTTP services, Redis, PostgreSQL, Kafka',
  namespace: 'shop',
  services: SERVICES,
  planTrace(rng) {
    const b = new TraceBuilder(rng, SERVICES);
    const shop = new ShopTrace(b);
    const page = rng.weighted<Page>([
      ['home', 22],
      ['product', 38],
      ['add-to-cart', 14],
      ['view-cart', 16],
      ['checkout', 10],
    ]);
    const userId = rng.hex(8);
    const productId = rng.pick(PRODUCT_IDS);
    const currency = rng.pick(CURRENCIES);
    const userAgent = rng.pick([
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
      'python-requests/2.32.3',
    ]);
    const http = (method: string, route: string, path: string): PlannedSpan =>
      b.httpServer('frontend', method, route, path, { 'user_agent.original': userAgent, 'app.user.id': userId });

    let root: PlannedSpan;
    // Calls whose failure the page survives (it renders without them).
    let optional: PlannedSpan[] = [];
    let required: PlannedSpan[] = [];
    switch (page) {
      case 'home': {
        root = http('GET', '/', '/');
        required = [shop.listProducts('frontend'), shop.convert('frontend', currency)];
        optional = [shop.ads('frontend')];
        root.work(b.latency(HANDLER)).parallel([...required, ...optional]);
        break;
      }
      case 'product': {
        root = http('GET', '/api/products/{productId}', `/api/products/${productId}`).set('app.product.id', productId);
        const product = shop.getProduct('frontend', productId);
        root.work(b.latency(HANDLER)).call(product).work(b.latency(TINY));
        required = [product];
        if (!product.failed) {
          const convert = shop.convert('frontend', currency);
          optional = [shop.recommendations('frontend', productId), shop.ads('frontend'), shop.cart('frontend', 'GetCart', userId)];
          root.parallel([convert, ...optional]);
          required.push(convert);
        }
        break;
      }
      case 'add-to-cart': {
        root = http('POST', '/api/cart', '/api/cart').set('app.product.id', productId);
        const product = shop.getProduct('frontend', productId);
        root.work(b.latency(HANDLER)).call(product);
        required = [product];
        if (!product.failed) {
          const add = shop.cart('frontend', 'AddItem', userId);
          root.call(add);
          required.push(add);
        }
        break;
      }
      case 'view-cart': {
        root = http('GET', '/api/cart', '/api/cart');
        const cart = shop.cart('frontend', 'GetCart', userId);
        root.work(b.latency(HANDLER)).call(cart);
        const lines = rng.int(1, 4);
        const conversions = Array.from({ length: lines }, () => shop.convert('frontend', currency));
        const quote = shop.shipping('frontend', 'GetQuote', lines);
        optional = [shop.recommendations('frontend', '')];
        root.parallel([...conversions, quote, ...optional]);
        required = [cart, ...conversions, quote];
        break;
      }
      case 'checkout': {
        root = http('POST', '/api/checkout', '/api/checkout');
        const order = shop.placeOrder('frontend', userId);
        root.work(b.latency(HANDLER)).call(order);
        required = [order];
        break;
      }
    }
    root.work(b.latency(HANDLER));
    b.propagate(root, required);
    return root;
  },
};
