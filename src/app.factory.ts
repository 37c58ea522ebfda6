import type { Server } from 'node:http';
import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { WINSTON_MODULE_NEST_PROVIDER } from 'nest-winston';
import { AppModule } from './app.module';
import type { AppConfig } from './config/config.types';
import type { Express, Request } from 'express';
import { RevocationService } from './auth/revocation.service';
import { ApiKeyTokenService, VerifiedApiKey } from './auth/tokens/api-key-token.service';
import { AuditWriter } from './audit/audit.writer';
import { auditUnroutedCalls } from './audit/unrouted-calls.audit';
import { jsonBodyParser, MayReadBody } from './common/body-parser';
import { ExpressServerAdapter } from './common/express-server.adapter';
import { answerClientError, requireHostHeader } from './common/client-error';
import { securityHeaders } from './common/security-headers';
import { installErrorEnvelope } from './common/error-envelope';
import { OriginPolicy } from './mcp/origin-check';
import { mcpOriginGate } from './mcp/origin.middleware';
import { createBootstrapLogger, withQuietFrameworkBoot } from './observability/logger.factory';
import { AccessLogMiddleware } from './observability/access-log.middleware';
import { RequestIdMiddleware } from './observability/request-id.middleware';
import { HttpMetricsMiddleware } from './metrics/http-metrics.middleware';
import { IpRateLimitMiddleware } from './rate-limit/ip-rate-limit.middleware';

/** Where a request body is taken: MCP, and the admin and credentials REST routes. */
const BODY_PATHS = /^\/(mcp|admin|credentials)(\/|$)/;

/**
 * The request's key when its token verifies (signature, audience, expiry:
 * microseconds) and it is not revoked (the in-memory set; "unknown" while
 * the set is stale counts as not): what may have its body read or its
 * unrouted admin call audited as its own. The guard still checks the rest.
 */
function activeKeyOf(tokens: ApiKeyTokenService, revocation: RevocationService) {
  return (req: Request): VerifiedApiKey | undefined => {
    let key: VerifiedApiKey;
    try {
      key = tokens.verifyRequest(req); // remembered: the guard does not verify it again
    } catch {
      return undefined;
    }
    return revocation.check(key.keyId) === 'active' ? key : undefined;
  };
}

/**
 * Reads a body only on a route that takes one and only for a caller whose
 * key is active (activeKeyOf), so parsing a large body costs an attacker a
 * valid key. Every route that takes a body needs one.
 */
function bodyReader(activeKey: (req: Request) => VerifiedApiKey | undefined): MayReadBody {
  return (req) => BODY_PATHS.test(req.path) && activeKey(req) !== undefined;
}

/**
 * Builds the whole application for a configuration: used by main.ts, the
 * CLI and the e2e tests, so they all run the same wiring.
 */
export async function createApp(config: AppConfig): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot(config),
    new ExpressServerAdapter(),
    {
      bodyParser: false,
      // Until the app's own logger takes over below, and for a boot that fails before it does: the
      // same redacted JSON lines, not coloured text, each written when it happens (not buffered).
      bufferLogs: false,
      logger: createBootstrapLogger(config),
      abortOnError: false,
    },
  );
  app.useLogger(withQuietFrameworkBoot(app.get(WINSTON_MODULE_NEST_PROVIDER)));
  const server = app.getHttpServer() as Server;
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  // Counted from a request's first byte, not over a kept-alive connection's idle time (which
  // keepAliveTimeout bounds): a sender that dribbles its headers or body is cut off with 408.
  server.headersTimeout = config.headersTimeoutMs;
  server.requestTimeout = config.requestTimeoutMs;
  // What Node cannot parse (a URL over the header limit, broken HTTP) or that came too slowly: JSON too.
  server.on('clientError', answerClientError);
  app.disable('x-powered-by');
  app.use(securityHeaders);
  // Only as many X-Forwarded-For hops as there are proxies: a client reaching the server directly
  // could otherwise name any address, escaping the per-IP limit and forging the audit trail's ip.
  app.set('trust proxy', config.trustProxyHops > 0 ? config.trustProxyHops : false);
  const adapter = app.getHttpAdapter() as ExpressServerAdapter;
  // Every JSON error, whoever answers it, with `error` and `code` (src/common/error-envelope.ts).
  installErrorEnvelope(adapter.getInstance<Express>());
  app.use(adapter.closeAfterDraining());
  const requestId = new RequestIdMiddleware(config);
  app.use(requestId.use.bind(requestId));
  // Every request is logged (LOG_LEVEL=verbose) and counted (http_requests_total) once it ends, those
  // answered before any route too: the Origin gate's 403, the per-IP 429, the body parser's refusals.
  const accessLog = new AccessLogMiddleware();
  app.use(accessLog.use.bind(accessLog));
  const httpMetrics = app.get(HttpMetricsMiddleware);
  app.use(httpMetrics.use.bind(httpMetrics));
  // An HTTP/1.1 request without Host: 400 bad_request in JSON (the server leaves it to this).
  app.use(requireHostHeader);
  // Host and Origin of /mcp before the key: a page of a foreign site gets 403, not a 401 to probe.
  app.use(mcpOriginGate(new OriginPolicy(config)));
  const activeKey = activeKeyOf(app.get(ApiKeyTokenService), app.get(RevocationService));
  // An authenticated admin call that no route takes (its body refused, a wrong method or path) is audited too.
  app.use(auditUnroutedCalls(app.get(AuditWriter), activeKey));
  // Per-IP limit before anything reads the body (the per-key limit runs after authentication).
  const ipLimit = app.get(IpRateLimitMiddleware);
  app.use(ipLimit.use.bind(ipLimit));
  for (const handler of jsonBodyParser(config.mcp.maxBodyBytes, bodyReader(activeKey))) app.use(handler);

  // The API's map, served without a key: on by default only on a developer's machine (API_DOCS).
  if (config.apiDocs) {
    const openapi = new DocumentBuilder()
      .setTitle('Sentia MCP')
      .setDescription('Admin and operations API of the Sentia MCP server. MCP clients use POST /mcp.')
      .setVersion(config.appVersion)
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An API key' })
      .build();
    SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, openapi), {
      jsonDocumentUrl: 'docs/openapi.json',
    });
  }
  return app;
}
