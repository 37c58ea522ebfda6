import { Injectable } from '@nestjs/common';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.types';
import type { ToolContext } from '../../mcp/mcp-context';
import { ConnectorCredentials } from '../http/connector-credentials.service';
import { UpstreamHttp } from '../http/upstream-http.service';
import { completionTimeoutMs, requestCompletion } from './ai-completion';
import { openAiOutOfCredit } from './ai-errors';
import type { Completion, CompletionRequest } from './ai.schemas';
import { openAiCompletion, openAiRequestBody } from './openai.mapping';

/** The OpenAI Chat Completions API with the organisation's stored key (`Authorization: Bearer`). */
@Injectable()
export class OpenAiClient {
  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly http: UpstreamHttp,
    private readonly credentials: ConnectorCredentials,
  ) {}

  async createChatCompletion(ctx: ToolContext, req: CompletionRequest): Promise<Completion> {
    const { apiKey } = await this.credentials.get(ctx, 'openai');
    return requestCompletion(
      this.http,
      {
        service: 'openai',
        // The base includes /v1, as the official SDK takes it.
        url: new URL(`${this.config.connectors.baseUrls.openai}/chat/completions`),
        headers: { authorization: `Bearer ${apiKey}` },
        body: openAiRequestBody(req),
        signal: ctx.signal,
        timeoutMs: completionTimeoutMs(this.config.connectors.timeoutMs, req.maxTokens),
        model: req.model,
        apiKey,
        refusedForGood: openAiOutOfCredit,
      },
      openAiCompletion,
    );
  }
}
