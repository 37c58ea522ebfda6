import { Module } from '@nestjs/common';
import { CredentialsModule } from '../../credentials/credentials.module';
import { ConnectorCredentials } from './connector-credentials.service';
import { UpstreamHttp } from './upstream-http.service';
import { UpstreamQuota } from './upstream-quota.service';

/** What every connector module imports: the upstream HTTP client, its credentials and the upstream quotas. */
@Module({
  imports: [CredentialsModule],
  providers: [UpstreamHttp, ConnectorCredentials, UpstreamQuota],
  exports: [UpstreamHttp, ConnectorCredentials, UpstreamQuota],
})
export class UpstreamHttpModule {}
