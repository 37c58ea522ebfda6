import type { CredentialsService } from '../../credentials/credentials.service';
import { CredentialsRequestError } from '../../credentials/credentials.errors';
import {
  CredentialsError,
  CredentialsErrorCode,
  DECRYPT_FAILED_MESSAGE,
} from '../../credentials/crypto/credential-errors';
import type { ToolContext } from '../../mcp/mcp-context';
import { ToolError } from '../../mcp/tool-pipeline.service';
import { ConnectorCredentials } from './connector-credentials.service';
import { UpstreamError } from './upstream.errors';

const call = (organizationId = 'org-1') =>
  ({ principal: { organizationId }, requestId: 'r' }) as unknown as ToolContext;

/** A stand-in vault: each read gives a new object (as if an admin stored anew between reads), counted. */
function vault(missing = false) {
  const reads: string[] = [];
  const credentials = {
    getDecrypted: async (organizationId: string, service: string) => {
      reads.push(`${organizationId}/${service}`);
      if (missing) throw CredentialsRequestError.notFound(service, null);
      return { apiId: 'id', apiKey: `key-${reads.length}` };
    },
  } as unknown as CredentialsService;
  return { connector: new ConnectorCredentials(credentials), reads };
}

describe('ConnectorCredentials', () => {
  it('reads a call’s credentials once: every later get of the call gets the same value', async () => {
    const { connector, reads } = vault();
    const ctx = call();
    const [first, concurrent] = await Promise.all([
      connector.get(ctx, 'unleashed'),
      connector.get(ctx, 'unleashed'),
    ]);
    const later = await connector.get(ctx, 'unleashed');
    expect(reads).toEqual(['org-1/unleashed']);
    expect(concurrent).toBe(first);
    expect(later).toBe(first);
    // Another service of the same call is its own read.
    await connector.get(ctx, 'shopify');
    expect(reads).toEqual(['org-1/unleashed', 'org-1/shopify']);
  });

  it('reads again for another call: what one call read is never another’s', async () => {
    const { connector, reads } = vault();
    const a = await connector.get(call(), 'unleashed');
    const b = await connector.get(call(), 'unleashed');
    expect(reads).toHaveLength(2);
    expect(b).not.toBe(a);
    expect(b).toEqual({ apiId: 'id', apiKey: 'key-2' });
  });

  it('reads again for another call of the same principal (one API key, many calls)', async () => {
    const { connector, reads } = vault();
    const principal = { organizationId: 'org-1' };
    const first = { principal, requestId: 'r1' } as unknown as ToolContext;
    const second = { principal, requestId: 'r2' } as unknown as ToolContext;
    await connector.get(first, 'unleashed');
    expect(await connector.get(second, 'unleashed')).toEqual({ apiId: 'id', apiKey: 'key-2' });
    expect(reads).toHaveLength(2);
  });

  it('refuses a call with no organisation, without asking the vault', async () => {
    const { connector, reads } = vault();
    const anonymous = { requestId: 'r' } as unknown as ToolContext;
    for (const read of [connector.get(anonymous, 'xero'), connector.getForUpdate(anonymous, 'xero')]) {
      const e = await read.catch((err: unknown) => err);
      expect(e).toBeInstanceOf(ToolError);
      expect((e as ToolError).code).toBe('unauthenticated');
    }
    expect(reads).toHaveLength(0);
  });

  it('says stored credentials that cannot be decrypted are unreadable, and how to fix it', async () => {
    const connector = new ConnectorCredentials({
      getDecrypted: () =>
        Promise.reject(new CredentialsError(CredentialsErrorCode.DecryptFailed, DECRYPT_FAILED_MESSAGE)),
    } as unknown as CredentialsService);
    const e = await connector.get(call(), 'shopify').catch((err: unknown) => err);
    expect(e).toBeInstanceOf(UpstreamError);
    expect((e as UpstreamError).code).toBe('credentials_unreadable');
    expect((e as UpstreamError).message).toBe(
      'The stored Shopify credentials cannot be read (decrypt_failed); ' +
        'an admin can store them again with PUT /credentials/shopify.',
    );
  });

  it('gives every get of a call the same tool error when none are stored, having asked once', async () => {
    const { connector, reads } = vault(true);
    const ctx = call();
    for (let i = 0; i < 2; i++) {
      const e = await connector.get(ctx, 'xero').catch((err: unknown) => err);
      expect(e).toBeInstanceOf(UpstreamError);
      expect((e as UpstreamError).code).toBe('credentials_missing');
    }
    expect(reads).toHaveLength(1);
  });
});
