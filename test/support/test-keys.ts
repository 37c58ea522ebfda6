/**
 * API keys for e2e tests, issued through the application's own ApiKeysService
 * (as the CLI does), so every request in a test is authenticated exactly as a
 * real client's.
 */
import { ApiKeysService } from '../../src/auth/api-keys.service';
import type { Permission } from '../../src/auth/tokens/permissions';
import { registerSecret } from './capture';
import type { StartedApp } from './start-app';

export class TestKey {
  private constructor(
    readonly token: string,
    readonly keyId: string,
    readonly organizationId: string,
    readonly permissions: readonly Permission[],
  ) {}

  /** Issues a key in `organizationId` (default `org-test`) holding `permissions` (at least one), expiring if asked. */
  static async create(
    started: StartedApp,
    opts: { permissions: Permission[]; organizationId?: string; name?: string; expiresInSeconds?: number },
  ): Promise<TestKey> {
    const organizationId = opts.organizationId ?? 'org-test';
    const created = await started.app
      .get(ApiKeysService)
      .create(
        { kind: 'system', tool: 'e2e', organizationId, userId: 'u-e2e' },
        { name: opts.name ?? 'e2e key', permissions: opts.permissions, expiresIn: opts.expiresInSeconds },
      );
    // The whole-run secret sweep checks that neither the token nor its signature is ever logged.
    registerSecret(created.token, 'TestKey token');
    registerSecret(created.token.split('.').pop(), 'TestKey token signature');
    return new TestKey(created.token, created.key.id, organizationId, opts.permissions);
  }
}

export function authHeaders(key: TestKey): Record<string, string> {
  return { authorization: `Bearer ${key.token}` };
}
