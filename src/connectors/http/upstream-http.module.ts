import { Module } from '@nestjs/common';
import { CredentialsModule } from '../../credentials/credentials.module';
import { ConnectorChecks } from './connector-checks';
import { ConnectorCredentials } from './connector-credentials.service';
import { ConnectorResultCache } from './tool-result-cache.service';
import { UpstreamConcurrency } from './upstream-concurrency.service';
import { UpstreamHttp } from './upstream-http.service';
import { UpstreamQuota } from './upstream-quota.service';

/**
 * What every connector module imports: the upstream HTTP client, its
 * credentials, the upstream quotas and concurrency limits, the registry of
 * their admin checks; and the cache of the connectors' read-only answers,
 * which registers itself with the MCP tool pipeline.
 */
@Module({
  imports: [CredentialsModule],
  providers: [
    UpstreamHttp,
    ConnectorCredentials,
    UpstreamQuota,
    UpstreamConcurrency,
    ConnectorResultCache,
    ConnectorChecks,
  ],
  exports: [UpstreamHttp, ConnectorCredentials, UpstreamQuota, UpstreamConcurrency, ConnectorChecks],
})
export class UpstreamHttpModule {}
