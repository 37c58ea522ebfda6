/**
 * Shared by the auth e2e specs: forging tokens independently of the server's
 * own encoder (node:crypto), and issuing real keys through ApiKeysService.
 */
import { createHmac } from 'node:crypto';
import { ApiKeysService, SystemActor } from '../../src/auth/api-keys.service';
import type { CreatedApiKeyDto } from '../../src/auth/api-key.dto';
import type { CreateApiKeyInput } from '../../src/auth/api-key.schemas';
import { registerSecret } from '../support/capture';
import type { StartedApp } from '../support/start-app';

/** Pass to startApp so tests know the signing secret. */
export const JWT_SECRET = 'e2e-auth-secret-e2e-auth-secret-0123456789';
export const AUTH_ENV = {
  JWT_SECRET,
  MASTER_ENCRYPTION_KEY: 'cd'.repeat(32),
  PUBLIC_BASE_URL: 'https://mcp.e2e.test',
};

export const b64 = (v: unknown): string =>
  Buffer.from(typeof v === 'string' ? v : JSON.stringify(v), 'utf8').toString('base64url');

export function forge(header: Record<string, unknown>, payload: unknown, secret = JWT_SECRET): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export function decodePayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

export function decodeHeader(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

export function systemActor(organizationId: string, userId = 'u-e2e'): SystemActor {
  return { kind: 'system', tool: 'e2e', organizationId, userId };
}

/** Issues a real key (as the CLI does) in `organizationId`; its token joins the secret sweep. */
export async function issueKey(
  started: StartedApp,
  organizationId: string,
  permissions: CreateApiKeyInput['permissions'],
  name = 'e2e key',
): Promise<CreatedApiKeyDto> {
  const created = await started.app
    .get(ApiKeysService)
    .create(systemActor(organizationId), { name, permissions });
  registerToken(created.token, 'issueKey');
  return created;
}

/** A token the tests hold, and its signature on its own, for the whole-run secret sweep. */
export function registerToken(token: string, source: string): void {
  registerSecret(token, `${source} token`);
  registerSecret(token.split('.').pop() ?? '', `${source} token signature`);
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns true or `timeoutMs` passes; returns the elapsed ms or undefined. */
export async function waitFor(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 10,
): Promise<number | undefined> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (await probe()) return performance.now() - started;
    await sleep(everyMs);
  }
  return undefined;
}
