import type { Principal } from '../../auth/principal';
import type { AppConfig } from '../../config/config.types';
import type { ToolContext } from '../../mcp/mcp-context';
import { adminCallContext, ConnectorChecks } from '../http/connector-checks';
import type { ConnectorCredentials } from '../http/connector-credentials.service';
import type { UpstreamHttp, UpstreamRequest, UpstreamResponse } from '../http/upstream-http.service';
import { cannedUpstreamResponse } from '../../../test/support/canned-upstream-response';
import { UpstreamError } from '../http/upstream.errors';
import { AiHealth } from './ai.health';

const ANTHROPIC_BASE = 'http://anthropic.test:8001';
const OPENAI_BASE = 'http://openai.test:8002/v1';
const PRINCIPAL: Principal = { keyId: 'k1', userId: 'u1', organizationId: 'org-1', permissions: ['admin'] };

/** AiHealth registered with real ConnectorChecks, over an UpstreamHttp that answers each call from `answers`. */
function setUp(answers: Array<{ status: number; body: unknown }>) {
  const sent: UpstreamRequest[] = [];
  const http = {
    send: (req: UpstreamRequest): Promise<UpstreamResponse> => {
      sent.push(req);
      const { status, body } = answers.shift()!;
      return Promise.resolve(cannedUpstreamResponse(req, status, body));
    },
  } as unknown as UpstreamHttp;
  const asked: string[] = [];
  const credentials = {
    get: (ctx: ToolContext, service: string) => {
      asked.push(`${ctx.principal?.organizationId} ${service}`);
      return Promise.resolve({ apiKey: `key-of-${service}` });
    },
  } as unknown as ConnectorCredentials;
  const config = {
    connectors: { baseUrls: { anthropic: ANTHROPIC_BASE, openai: OPENAI_BASE } },
  } as AppConfig;
  const checks = new ConnectorChecks();
  new AiHealth(config, http, credentials, checks).onModuleInit();
  const signal = new AbortController().signal;
  const run = (service: 'anthropic' | 'openai') =>
    checks.get(service)!.check(adminCallContext(PRINCIPAL, 'req-1', signal));
  return { checks, sent, asked, run, signal };
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('the check succeeded');
    },
    (e: unknown) => e as UpstreamError,
  );

describe('AiHealth', () => {
  it("lists Anthropic's models with the organisation's key and version, accept JSON and the admin's signal", async () => {
    const { sent, asked, run, signal } = setUp([{ status: 200, body: { data: [], has_more: true } }]);
    expect(await run('anthropic')).toBe('Anthropic accepted the API key');
    expect(asked).toEqual(['org-1 anthropic']);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toEqual({
      service: 'anthropic',
      method: 'GET',
      url: new URL(`${ANTHROPIC_BASE}/v1/models?limit=1`),
      headers: {
        'x-api-key': 'key-of-anthropic',
        'anthropic-version': '2023-06-01',
        accept: 'application/json',
      },
      signal: expect.any(AbortSignal),
    });
    expect(sent[0].signal).toBe(signal);
  });

  it("lists OpenAI's models under its base (which has /v1) with the key as Bearer", async () => {
    const { sent, asked, run, signal } = setUp([
      { status: 200, body: { object: 'list', data: [{ id: 'm' }] } },
    ]);
    expect(await run('openai')).toBe('OpenAI accepted the API key');
    expect(asked).toEqual(['org-1 openai']);
    expect(sent[0]).toEqual({
      service: 'openai',
      method: 'GET',
      url: new URL(`${OPENAI_BASE}/models`),
      headers: { authorization: 'Bearer key-of-openai', accept: 'application/json' },
      signal: expect.any(AbortSignal),
    });
    expect(sent[0].signal).toBe(signal);
  });

  it('keeps each provider under its own origin', () => {
    const { checks } = setUp([]);
    expect(checks.get('anthropic')!.origins()).toEqual(['http://anthropic.test:8001']);
    expect(checks.get('openai')!.origins()).toEqual(['http://openai.test:8002']);
  });

  it('401 and 403: the stored key was refused, naming the fix', async () => {
    for (const service of ['anthropic', 'openai'] as const)
      for (const status of [401, 403]) {
        const { run } = setUp([{ status, body: { error: { message: 'invalid x-api-key key-of-x' } } }]);
        const e = await failure(run(service));
        expect([service, status, e.code]).toEqual([service, status, 'upstream_rejected_credentials']);
        expect(e.message).toContain(`(HTTP ${status})`);
        expect(e.message).toContain(`PUT /credentials/${service}`);
      }
  });

  it('404: no models list at the configured base, naming where it was looked for', async () => {
    const { run } = setUp([{ status: 404, body: '<html>nope</html>' }]);
    const e = await failure(run('openai'));
    expect(e.code).toBe('upstream_not_found');
    expect(e.message).toContain('models list at http://openai.test:8002/v1/models');
  });

  it('any other status outside 200-299, a 3xx too, is unexpected, and its body unread', async () => {
    for (const status of [302, 400, 418]) {
      const { run } = setUp([{ status, body: { data: [] } }]);
      const e = await failure(run('anthropic'));
      expect([status, e.code]).toEqual([status, 'upstream_unexpected_status']);
    }
  });

  it('a 200 that is not a models list is a bad response, nothing of the body told', async () => {
    for (const body of [{ object: 'list' }, { data: 'all' }, [], 'plain text']) {
      const { run } = setUp([{ status: 200, body }]);
      const e = await failure(run('openai'));
      expect([body, e.code]).toEqual([body, 'upstream_bad_response']);
    }
  });
});
