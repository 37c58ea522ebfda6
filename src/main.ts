import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app.factory';
import { DRAIN_IDLE_GRACE_MS, ExpressServerAdapter } from './common/express-server.adapter';
import { ConfigError, loadConfig } from './config/load-config';

async function bootstrap(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      // One JSON line like every other (no logger exists without a configuration); values never echoed.
      const line = {
        timestamp: new Date().toISOString(),
        level: 'error',
        context: 'Bootstrap',
        message: e.message,
      };
      process.stderr.write(`${JSON.stringify(line)}\n`);
      process.exit(1);
    }
    throw e;
  }
  const app = await createApp(config);
  await app.listen(config.port, config.host);
  const logger = new Logger('Bootstrap');
  const database =
    config.database.kind === 'postgres'
      ? `PostgreSQL${config.database.schema ? ` (schema ${config.database.schema})` : ''}`
      : `SQLite ${config.database.path}`;
  const store = config.redisUrl ? 'Redis' : 'in-memory store';
  logger.log(
    `Sentia MCP ${config.appVersion} listening on http://${config.host}:${config.port} [${config.env}: ${database}, ${store}]`,
  );
  logger.log(
    `MCP endpoint: ${config.publicBaseUrl}/mcp  health: /health, /health/ready  ` +
      `metrics: /metrics (${config.metricsPublic ? 'public' : 'metrics:read'})` +
      (config.apiDocs ? '  docs: /docs' : ''),
  );
  logger.log(
    `Audit: ${config.audit.mode}` +
      (config.audit.mode === 'sync'
        ? `, durable in the ${config.audit.durability}`
        : ', answered before durable'),
  );
  if (config.unknownSettings?.length)
    logger.warn(
      `Ignored settings this server does not know (misspelt?): ${config.unknownSettings.join(', ')}; ` +
        'the README lists every setting',
    );
  if (config.generatedSecretsFile)
    logger.warn(`Development secrets are kept in ${config.generatedSecretsFile}`);

  // SIGTERM/SIGINT: stop accepting, let in-flight calls finish (bounded by
  // SHUTDOWN_GRACE_MS), run every module's shutdown hook (audit flush, pools),
  // then exit 0.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received: draining and shutting down`);
    const server = app.getHttpServer() as import('node:http').Server;
    // No new connections; kept-alive ones close after their next answer (Nest's own close, after the
    // modules' shutdown hooks, would otherwise leave them taking calls until the grace runs out).
    void (app.getHttpAdapter() as ExpressServerAdapter).stopAccepting(DRAIN_IDLE_GRACE_MS);
    const force = setTimeout(() => server.closeAllConnections(), config.shutdownGraceMs);
    force.unref();
    app.close().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error(`Shutdown failed: ${(e as Error)?.message ?? e}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

bootstrap().catch((e: unknown) => {
  // A JSON line like the rest (the bootstrap logger, or the app's own once it took over).
  new Logger('Bootstrap').error(`Sentia MCP failed to start: ${(e as Error)?.message ?? e}`);
  process.exit(1);
});
