import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import express, { type Express } from 'express';

/**
 * A constructor whose instances are initialised by `base` (Node's own
 * constructor) but carry `prototype` from the start; statics come from `base`.
 */
function withPrototype<C extends typeof IncomingMessage | typeof ServerResponse>(
  base: C,
  prototype: object,
): C {
  // Node's IncomingMessage and ServerResponse are plain constructor functions, callable on `this`.
  const init = base as unknown as (this: object, ...args: unknown[]) => void;
  function Built(this: object, ...args: unknown[]): void {
    init.apply(this, args);
  }
  Built.prototype = prototype;
  Object.setPrototypeOf(Built, base);
  return Built as unknown as C;
}

/**
 * Nest's Express adapter, with two changes. Routes match case-sensitively:
 * `/Credentials` is not `/credentials` but a 404, so every check made on a
 * request's path (public probes, rate-limit exemptions, the /mcp body
 * dialect) sees the spelling the router matched. And the HTTP server builds every
 * request and response with Express's own prototypes (`app.request`,
 * `app.response`), so the `Object.setPrototypeOf(req, app.request)` that
 * Express runs on each request finds the prototype already in place and
 * changes nothing.
 *
 * Why: swapping the prototype of a live IncomingMessage/ServerResponse makes
 * V8's young-generation collections (scavenges) far slower: the request's
 * objects are copied instead of dropped. With a bare Express app on this
 * machine's Node 20, scavenges took 6.7 ms at the median against 0.5 ms with
 * this server; in this application they took 6-8 ms (p99 about 20 ms), every
 * one a pause of the event loop for every call in flight. See docs/design.md.
 *
 * HTTPS (which this service leaves to its load balancer) keeps Nest's own server.
 */
export class ExpressServerAdapter extends ExpressAdapter {
  constructor() {
    // Before Nest's adapter adds its first middleware, which creates the app's router with this setting.
    const app = express();
    app.set('case sensitive routing', true);
    super(app);
  }

  override initHttpServer(options: NestApplicationOptions): void {
    if (options?.httpsOptions || options?.forceCloseConnections) {
      super.initHttpServer(options);
      return;
    }
    const app = this.getInstance<Express>();
    this.httpServer = createServer(
      {
        IncomingMessage: withPrototype(IncomingMessage, app.request),
        ServerResponse: withPrototype(ServerResponse, app.response),
      },
      app,
    );
  }
}
