import { Injectable, NotFoundException, OnApplicationBootstrap } from '@nestjs/common';
import type { Principal } from '../auth/principal';
import { CredentialsService } from '../credentials/credentials.service';
import { ToolError } from '../mcp/tool-pipeline.service';
import {
  CONNECTOR_SERVICES,
  ConnectorCheckDto,
  ConnectorCircuitDto,
  ConnectorListDto,
  ConnectorStatusDto,
} from './connectors-admin.dto';
import { adminCallContext, ConnectorCheck, ConnectorChecks } from './http/connector-checks';
import { UpstreamHttp } from './http/upstream-http.service';
import { UpstreamError, UpstreamService } from './http/upstream.errors';

/** Worst first: the state a service with several hosts (Xero's identity and API) is reported in. */
const SEVERITY = { open: 3, half_open: 2, closed: 1 } as const;

/**
 * Connector health for an organisation's admins: what is stored and this
 * instance's circuit breakers (`list`), and a live check of one service with
 * the stored credentials (`check`), each connector's check being its own
 * (`*.health.ts`, registered with ConnectorChecks).
 */
@Injectable()
export class ConnectorHealth implements OnApplicationBootstrap {
  constructor(
    private readonly checks: ConnectorChecks,
    private readonly http: UpstreamHttp,
    private readonly credentials: CredentialsService,
  ) {}

  /** Every service must have its check: a connector added without one fails the boot, not an admin's call. */
  onApplicationBootstrap(): void {
    const missing = CONNECTOR_SERVICES.filter((s) => !this.checks.get(s));
    if (missing.length > 0) throw new Error(`ConnectorHealth: no admin check for ${missing.join(', ')}`);
  }

  async list(principal: Principal): Promise<ConnectorListDto> {
    const stored = new Map(
      (await this.credentials.list(principal))
        .filter((c) => c.userId === null)
        .map((c) => [c.service, c.updatedAt] as const),
    );
    const items = CONNECTOR_SERVICES.map((service): ConnectorStatusDto => ({
      service,
      credentials: { stored: stored.has(service), updatedAt: stored.get(service) ?? null },
      circuit: this.circuit(this.checkOf(service)),
    }));
    return { items };
  }

  /**
   * One live check: `ok` with the connector's detail, or the code and message
   * a tool would fail with. Anything that is not a tool's error (the database
   * down, a fault of ours) is thrown, and answered as any admin route does.
   */
  async check(
    principal: Principal,
    service: string,
    requestId: string,
    signal: AbortSignal,
  ): Promise<ConnectorCheckDto> {
    const check = this.checkOf(service);
    const checkedAt = new Date();
    const started = performance.now();
    const done = () => ({
      service: check.service,
      checkedAt: checkedAt.toISOString(),
      durationMs: Math.round(performance.now() - started),
    });
    try {
      const detail = await check.check(adminCallContext(principal, requestId, signal));
      return { ...done(), ok: true, detail };
    } catch (e) {
      if (!(e instanceof ToolError)) throw e;
      const retryAfterSeconds = e instanceof UpstreamError ? e.retryAfterSeconds : undefined;
      return {
        ...done(),
        ok: false,
        code: e.code,
        message: e.message,
        ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
      };
    }
  }

  private checkOf(service: string): ConnectorCheck {
    const check = isConnectorService(service) ? this.checks.get(service) : undefined;
    if (!check) throw unknownService(service);
    return check;
  }

  /** The worst state among the service's hosts on this instance; unknown when its host is not known (Shopify). */
  private circuit(check: ConnectorCheck): ConnectorCircuitDto {
    const scope = check.service === 'shopify' ? 'shop' : 'service';
    const origins = check.origins();
    if (origins === undefined) return { state: 'unknown', scope, retryAfterSeconds: null };
    const worst = origins
      .map((origin) => this.http.circuitOf(check.service, origin))
      .reduce((a, b) => (SEVERITY[b.state] > SEVERITY[a.state] ? b : a));
    return {
      state: worst.state,
      scope,
      retryAfterSeconds: worst.state === 'open' ? Math.max(1, Math.ceil(worst.retryAfterMs / 1000)) : null,
    };
  }
}

function isConnectorService(service: string): service is UpstreamService {
  return (CONNECTOR_SERVICES as string[]).includes(service);
}

/** 404 naming the services there are; the value given is quoted (JSON-escaped, cut to 100 characters). */
function unknownService(service: string): NotFoundException {
  const shown = JSON.stringify(service.length > 100 ? `${service.slice(0, 100)}...` : service);
  const allowed = CONNECTOR_SERVICES.join(', ');
  return new NotFoundException({
    statusCode: 404,
    error: 'Not Found',
    code: 'unknown_service',
    message: `unknown service ${shown}: must be one of ${allowed}`,
    errors: [{ field: 'service', message: `must be one of ${allowed}` }],
  });
}
