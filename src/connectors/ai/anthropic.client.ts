import { Injectable } from '@nestjs/common';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.types';
import type { ToolContext } from '../../mcp/mcp-context';
import { ConnectorCredentials } from '../http/connector-credentials.service';
import { UpstreamHttp } from '../http/upstream-http.service';
import { completionTimeoutMs, requestCompletion } from './ai-completion';
import type { Completion, CompletionRequest } from './ai.schemas';
import { ANTHROPIC_VERSION, anthropicCompletion, anthropicRequestBody } from './anthropic.mapping';

/** The Anthropic Messages API with the organisation's stored key (`x-api-key`). */
@Injectable()
export class AnthropicClient {
  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly http: UpstreamHttp,
    private readonly credentials: ConnectorCredentials,
  ) {}

  async createMessage(ctx: ToolContext, req: CompletionRequest): Promise<Completion> {
    const { apiKey } = await this.credentials.get(ctx, 'anthropic');
    return requestCompletion(
      this.http,
      {
        service: 'anthropic',
        url: new URL(`${this.config.connectors.baseUrls.anthropic}/v1/messages`),
        headers: { 'x-api-key': apiKey, 'anthropic-version': ANTHROPIC_VERSION },
        body: anthropicRequestBody(req),
        signal: ctx.signal,
        timeoutMs: completionTimeoutMs(this.config.connectors.timeoutMs, req.maxTokens),
        model: req.model,
        apiKey,
      },
      anthropicCompletion,
    );
  }
}
