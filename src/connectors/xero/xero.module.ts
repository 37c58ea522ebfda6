import { Module } from '@nestjs/common';
import { CredentialsModule } from '../../credentials/credentials.module';
import { UpstreamHttpModule } from '../http/upstream-http.module';
import { XeroClient } from './xero-client.service';
import { XeroTokens } from './xero-token.service';
import { XeroReportTools } from './xero-reports.tools';
import { XeroTools } from './xero.tools';
import { XeroHealth } from './xero.health';
import { XeroPrompts } from './xero.prompts';

/** The Xero connector: tokens (in process memory), the Accounting API client and its MCP tools. */
@Module({
  imports: [UpstreamHttpModule, CredentialsModule],
  providers: [XeroTokens, XeroClient, XeroTools, XeroReportTools, XeroHealth, XeroPrompts],
})
export class XeroModule {}
