import { Module } from '@nestjs/common';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import { ConformanceClientRequestToolFixtures } from './conformance-client-request-tools.fixtures';
import { ConformancePromptFixtures } from './conformance-prompts.fixtures';
import { ConformanceResourceFixtures } from './conformance-resources.fixtures';
import { ConformanceToolFixtures } from './conformance-tools.fixtures';

/**
 * The tools, resources and prompts the MCP conformance suite
 * (`@modelcontextprotocol/conformance server --suite all`) calls, declared
 * with the same @Tool/@Resource/@Prompt decorators as real features so the
 * suite exercises the real registry, pipeline and transports.
 *
 * AppModule imports it only when MCP_CONFORMANCE_FIXTURES=true; loadConfig
 * refuses that flag in production, and this module refuses to load there too.
 */
@Module({
  providers: [
    ConformanceToolFixtures,
    ConformanceClientRequestToolFixtures,
    ConformanceResourceFixtures,
    ConformancePromptFixtures,
  ],
})
export class ConformanceFixturesModule {
  constructor(@InjectConfig() config: AppConfig) {
    if (config.env === 'production' || !config.mcp.conformanceFixtures) {
      throw new Error(
        'ConformanceFixturesModule is test-only: it loads only with MCP_CONFORMANCE_FIXTURES=true and never in production',
      );
    }
  }
}
