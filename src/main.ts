import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app.factory';
import { AuditWriter } from './audit/audit.writer';
import { DRAIN_IDLE_GRACE_MS, ExpressServerAdapter } from './common/express-server.adapter';
import { settlesWithin } from './common/deadline';
import { CONNECTIONS_CLOSE_BEFORE_MS, ShutdownClock } from './common/shutdown-clock';
import { ConfigError, loadConfig } from './config/load-config';
import { redactString } from './observability/redact';
import type { AddressInfo } from 'node:net';

/** What the backstop gives audit records still being written at the deadline. */
const FINAL_FLUSH_MS = 1_000;

/** One JSON line like every other, for a failure before any logger exists (values never echoed). */
function failBeforeLogger(message: string): never {
  const line = { timestamp: new Date().toISOString(), level: 'error', context: 'Bootstrap', message };
  process.stderr.write(`${JSON.stringify(line)}\n`);
  process.exit(1);
}

async function bootstrap(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    failBeforeLogger(
      e instanceof ConfigError
        ? e.message
        : `Sentia MCP failed to start: ${redactString(String((e as Error)?.message ?? e))}`,
    );
  }
  const app = await createApp(config);
  await app.listen(config.port, config.host);
  const logger = new Logger('Bootstrap');
  const { port } = (app.getHttpServer() as import('node:http').Server).address() as AddressInfo;
  if (config.port === 0 && new URL(config.publicBaseUrl).port === '0')
    logger.warn(
      `PORT=0 took the free port ${port}, but API keys are bound to PUBLIC_BASE_URL, which names port 0 ` +
        `(${config.publicBaseUrl}): set PORT, or PUBLIC_BASE_URL to the URL clients use`,
    );
  const database =
    config.database.kind === 'postgres'
      ? `PostgreSQL${config.database.schema ? ` (schema ${config.database.schema})` : ''}`
      : `SQLite ${config.database.path}`;
  const store = config.redisUrl ? 'Redis' : 'in-memory store';
  logger.log(
    `Sentia MCP ${config.appVersion} listening on http://${config.host}:${port} [${config.env}: ${database}, ${store}]`,
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

  // SIGTERM/SIGINT: stop accepting, let in-flight calls finish, run every
  // module's shutdown hook (audit flush, pools), then exit 0; the whole stop
  // within SHUTDOWN_GRACE_MS (ShutdownClock: each step that waits on the
  // database or Redis is bounded by what is left of it).
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received: draining and shutting down`);
    const clock = app.get(ShutdownClock);
    clock.begin(config.shutdownGraceMs);
    const server = app.getHttpServer() as import('node:http').Server;
    // No new connections; kept-alive ones close after their next answer (Nest's own close, after the
    // modules' shutdown hooks, would otherwise leave them taking calls until the grace runs out).
    void (app.getHttpAdapter() as ExpressServerAdapter).stopAccepting(DRAIN_IDLE_GRACE_MS);
    // Calls still running then are cut, leaving the reserve to write their audit records.
    const force = setTimeout(
      () => server.closeAllConnections(),
      Math.max(0, clock.remainingMs() - CONNECTIONS_CLOSE_BEFORE_MS),
    );
    force.unref();
    // The backstop: a step that outlived its bound (a pool still closing against a database that
    // swallows packets) does not hold the process past the deadline.
    const backstop = setTimeout(() => {
      const audit = app.get(AuditWriter, { strict: false });
      const exit = () => {
        if (audit.settled) {
          logger.warn(
            `The stop reached SHUTDOWN_GRACE_MS (${config.shutdownGraceMs} ms) with a step still waiting ` +
              '(closing the database or Redis connections, most likely); exiting. Every audit record was ' +
              'written, to the database or the local spool or journal',
          );
          process.exit(0);
        }
        logger.error(
          `The stop reached SHUTDOWN_GRACE_MS (${config.shutdownGraceMs} ms) with audit records not yet ` +
            `written (${audit.queueDepth} queued, more in a batch being written); exiting`,
        );
        process.exit(1);
      };
      // A record still being written (a call that ended in the last moments) gets one short wait: its
      // write is bounded by then, and the spool takes it if the database does not.
      if (audit.settled) exit();
      else void settlesWithin(audit.flush(), FINAL_FLUSH_MS).then(exit);
    }, clock.remainingMs());
    backstop.unref();
    const stopStarted = Date.now();
    app.close().then(
      () => {
        logger.log(
          `Stopped in ${Date.now() - stopStarted} ms: calls answered, pending audit records flushed`,
        );
        process.exit(0);
      },
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
