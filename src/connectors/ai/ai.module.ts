import { Module } from '@nestjs/common';
import { UpstreamHttpModule } from '../http/upstream-http.module';
import { AiHealth } from './ai.health';
import { AiTools } from './ai.tools';
import { AnthropicClient } from './anthropic.client';
import { OpenAiClient } from './openai.client';

/** The Anthropic and OpenAI tools (`ai:invoke`), reached through the upstream HTTP foundation. */
@Module({
  imports: [UpstreamHttpModule],
  providers: [AnthropicClient, OpenAiClient, AiTools, AiHealth],
})
export class AiModule {}
