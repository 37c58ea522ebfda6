import { Module } from '@nestjs/common';
import { CredentialsModule } from '../../credentials/credentials.module';
import { ConnectorCredentials } from './connector-credentials.service';
import { ConnectorResultCache } from './tool-result-cache.service';
import { UpstreamHttp } from './upstream-http.service';
import { UpstreamQuota } from './upstream-quota.service';

/**
 * What every connector module imports: the upstream HTTP client, its
 * credentials and the upstream quotas; and the cache of the connectors'
 * read-only answers, which registers itself with the MCP tool pipeline.
 */
@Module({
  imports: [CredentialsModule],
  providers: [UpstreamHttp, ConnectorCredentials, UpstreamQuota, ConnectorResultCache],
  exports: [UpstreamHttp, ConnectorCredentials, UpstreamQuota],
})
export class UpstreamHttpModule {}
