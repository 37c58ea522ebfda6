import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { Server as NetServer } from 'node:net';
import type { NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';

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

/** How long, once a signal starts the drain, an idle kept-alive connection may still bring a last request. */
export const DRAIN_IDLE_GRACE_MS = 1000;

/** What this adapter reads of Express's router (router 2.x): its layers, and each route's methods. */
interface RouterLayer {
  route?: { methods: Record<string, boolean | undefined> };
  match(path: string): unknown;
}

/** The methods some route of `app` answers on `path` (HEAD wherever GET is); none: no such path. */
export function allowedMethods(app: Express, path: string): string[] {
  const stack = (app as unknown as { router?: { stack?: RouterLayer[] } }).router?.stack ?? [];
  const methods = new Set<string>();
  for (const layer of stack) {
    if (!layer.route || !layer.match(path)) continue;
    for (const [method, on] of Object.entries(layer.route.methods))
      if (on && method !== '_all') methods.add(method.toUpperCase());
  }
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort();
}

/**
 * Nest's Express adapter, with three changes. A request for a path that
 * exists, with a method it does not take, gets 405 with `Allow` (not 404
 * "Cannot PUT /health"). Routes match case-sensitively:
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

  /**
   * What no route takes: 405 with `Allow` when the path exists under other
   * methods, else 404 naming the method and path. Not Nest's own 404 (the
   * handler passed in), which names the whole URL, query string and all,
   * where a client may have put a token (`?access_token=...`).
   */
  override setNotFoundHandler(
    _nestHandler: (req: Request, res: Response, next: NextFunction) => unknown,
    prefix?: string,
  ) {
    const app = this.getInstance<Express>();
    return super.setNotFoundHandler((req: Request, res: Response) => {
      const allowed = allowedMethods(app, req.path);
      if (allowed.length === 0) {
        res.status(404).json({
          statusCode: 404,
          error: 'Not Found',
          code: 'not_found',
          message: `Cannot ${req.method} ${req.path}`,
        });
        return;
      }
      res.setHeader('Allow', allowed.join(', '));
      res.status(405).json({
        statusCode: 405,
        error: 'Method Not Allowed',
        code: 'method_not_allowed',
        message: `${req.method} is not allowed on ${req.path}: use ${allowed.join(', ')}`,
      });
    }, prefix);
  }

  private closing?: Promise<void>;

  /** True once the server has stopped taking connections (shutdown). */
  get draining(): boolean {
    return this.closing !== undefined;
  }

  /**
   * Shutdown's first step: no new connections, and the kept-alive ones wind
   * down: every answer from now on says `Connection: close` (see
   * `closeAfterDraining`), and connections that fall idle are closed as they
   * do. Without this the server went on taking calls on kept-alive
   * connections until the shutdown grace ran out, then cut them mid-call.
   * Resolves once every connection has ended. Idempotent: Nest's own close at
   * the end of the shutdown (no idle grace: tests, the CLI) waits for the same.
   * The signal handler gives idle connections `idleGraceMs` (DRAIN_IDLE_GRACE_MS).
   */
  stopAccepting(idleGraceMs = 0): Promise<void> {
    if (this.closing) return this.closing;
    const server = this.httpServer as import('node:http').Server;
    // net's close, not http's: http's also closes every idle kept-alive connection at once, and a
    // client sending its next request on one at that moment has it reset, unanswered. Idle ones are
    // left `idleGraceMs` to send a last request (answered, with Connection: close) first.
    this.closing = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
    const since = Date.now();
    if (idleGraceMs <= 0) server.closeIdleConnections();
    const sweep = setInterval(() => {
      if (Date.now() - since >= idleGraceMs) server.closeIdleConnections();
    }, 100);
    sweep.unref();
    void this.closing.finally(() => clearInterval(sweep));
    return this.closing;
  }

  override close(): Promise<void> {
    return this.stopAccepting();
  }

  /** Middleware: once draining, each answer closes its connection, so the client reconnects elsewhere. */
  closeAfterDraining(): (req: Request, res: Response, next: NextFunction) => void {
    return (_req, res, next) => {
      if (this.draining) res.setHeader('Connection', 'close');
      next();
    };
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
        // How often Node checks headersTimeout and requestTimeout: its 30 s default let a slow
        // sender keep a socket up to 30 s past either.
        connectionsCheckingInterval: 1_000,
        // A request without Host is answered by requireHostHeader (client-error.ts), in JSON:
        // Node's own answer is a bare 400 sent before any middleware.
        requireHostHeader: false,
      },
      app,
    );
    // A request with `Expect: 100-continue` goes to the app like any other: the body parser answers
    // `100 Continue` when it is going to read the body (Node would have sent it at once, so a client
    // without a key, or with a body over the limit, uploaded it all before its 401 or 413).
    this.httpServer.on('checkContinue', (req: IncomingMessage, res: ServerResponse) =>
      this.httpServer.emit('request', req, res),
    );
  }
}
