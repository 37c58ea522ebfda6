import { Injectable, OnModuleInit } from '@nestjs/common';
import { z } from 'zod';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.types';
import type { ToolContext } from '../../mcp/mcp-context';
import { ConnectorChecks } from '../http/connector-checks';
import { ConnectorCredentials } from '../http/connector-credentials.service';
import { UpstreamHttp } from '../http/upstream-http.service';
import { SERVICE_NAMES, UpstreamError } from '../http/upstream.errors';
import { ANTHROPIC_VERSION } from './anthropic.mapping';

/** Both providers' model lists: `{"data": [...]}` (Anthropic adds paging fields, OpenAI `"object": "list"`). */
const MODEL_LIST = z.object({ data: z.array(z.unknown()) });

/**
 * The providers' admin check: their models list, the one endpoint that
 * checks the key and generates nothing (no tokens billed). A GET, so a
 * network failure or 5xx is retried as for any read; 429 and 529 are the
 * foundation's as always.
 */
async function listModels(
  http: UpstreamHttp,
  ctx: ToolContext,
  service: 'anthropic' | 'openai',
  url: URL,
  headers: Record<string, string>,
): Promise<string> {
  const res = await http.send({
    service,
    method: 'GET',
    url,
    headers: { ...headers, accept: 'application/json' },
    signal: ctx.signal,
  });
  if (res.status === 401 || res.status === 403) throw UpstreamError.rejectedCredentials(service, res.status);
  if (res.status === 404)
    throw UpstreamError.notFound(service, `models list at ${url.origin}${url.pathname}`);
  if (res.status < 200 || res.status > 299) throw UpstreamError.unexpectedStatus(service, res.status);
  if (!MODEL_LIST.safeParse(res.json()).success)
    throw UpstreamError.badResponse(service, 'a models list without the documented fields');
  return `${SERVICE_NAMES[service]} accepted the API key`;
}

/**
 * Registers both providers' checks: Anthropic `GET /v1/models?limit=1` with
 * `x-api-key` and `anthropic-version`; OpenAI `GET {base}/models` (the base
 * includes /v1) with `Authorization: Bearer`, which takes no page size.
 */
@Injectable()
export class AiHealth implements OnModuleInit {
  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly http: UpstreamHttp,
    private readonly credentials: ConnectorCredentials,
    private readonly checks: ConnectorChecks,
  ) {}

  onModuleInit(): void {
    const { anthropic, openai } = this.config.connectors.baseUrls;
    this.checks.register({
      service: 'anthropic',
      origins: () => [new URL(anthropic).origin],
      check: async (ctx) => {
        const { apiKey } = await this.credentials.get(ctx, 'anthropic');
        const url = new URL(`${anthropic}/v1/models`);
        url.searchParams.set('limit', '1');
        return listModels(this.http, ctx, 'anthropic', url, {
          'x-api-key': apiKey,
          'anthropic-version': ANTHROPIC_VERSION,
        });
      },
    });
    this.checks.register({
      service: 'openai',
      origins: () => [new URL(openai).origin],
      check: async (ctx) => {
        const { apiKey } = await this.credentials.get(ctx, 'openai');
        return listModels(this.http, ctx, 'openai', new URL(`${openai}/models`), {
          authorization: `Bearer ${apiKey}`,
        });
      },
    });
  }
}
