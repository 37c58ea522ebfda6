import { Logger } from '@nestjs/common';
import type { CredentialChange, CredentialsService } from '../credentials/credentials.service';
import type { MayHear } from '../mcp/organisation-event-bus';
import type { ResourceUpdates } from '../mcp/resource-updates.service';
import { ConnectorsUpdates } from './connectors-updates.service';

type Sent = { organizationId: string; uri: string; mayHear?: MayHear };

/** ConnectorsUpdates over a credentials watch it can be told changes through, and the updates it sends. */
function setUp(updated: (sent: Sent) => Promise<void> = () => Promise.resolve()) {
  const listeners = new Set<(change: CredentialChange) => void>();
  const credentials = {
    watch: (listener: (change: CredentialChange) => void) => {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  } as unknown as CredentialsService;
  const sent: Sent[] = [];
  const updates = {
    updated: (organizationId: string, uri: string, mayHear?: MayHear) => {
      const s = { organizationId, uri, mayHear };
      sent.push(s);
      return updated(s);
    },
  } as unknown as ResourceUpdates;
  const service = new ConnectorsUpdates(credentials, updates);
  service.onModuleInit();
  const change = (c: CredentialChange) => {
    for (const l of listeners) l(c);
  };
  return { service, change, sent, listeners };
}

describe('ConnectorsUpdates', () => {
  it("tells the organisation's keys holding the service's permission when its own credentials are stored or deleted", () => {
    const { change, sent } = setUp();
    change({ organizationId: 'org-1', userId: null, service: 'xero', change: 'stored' });
    change({ organizationId: 'org-2', userId: null, service: 'openai', change: 'deleted' });
    expect(sent.map((s) => [s.organizationId, s.uri])).toEqual([
      ['org-1', 'sentia://connectors'],
      ['org-2', 'sentia://connectors'],
    ]);
    expect([['xero:read'], ['admin'], ['shopify:read'], []].map((p) => sent[0].mayHear!(p))).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(sent[1].mayHear!(['ai:invoke'])).toBe(true);
    expect(sent[1].mayHear!(['xero:read'])).toBe(false);
  });

  it("says nothing of a user's own credential, a connector's refresh, or a service the resource does not show", () => {
    const { change, sent } = setUp();
    change({ organizationId: 'org-1', userId: 'bob', service: 'xero', change: 'stored' });
    change({ organizationId: 'org-1', userId: 'bob', service: 'openai', change: 'deleted' });
    change({ organizationId: 'org-1', userId: null, service: 'xero', change: 'refreshed' });
    for (const service of ['mystery', 'toString', '__proto__', 'constructor'])
      change({ organizationId: 'org-1', userId: null, service, change: 'stored' });
    expect(sent).toEqual([]);
  });

  it('logs an update it could not send, naming the organisation, and goes on', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const { change, sent } = setUp(() => Promise.reject(new Error('store down')));
      change({ organizationId: 'org-9', userId: null, service: 'shopify', change: 'stored' });
      await new Promise((resolve) => setImmediate(resolve));
      expect(sent).toHaveLength(1);
      expect(warn).toHaveBeenCalledWith(
        'Could not send the connectors update of organisation org-9: store down',
      );
    } finally {
      warn.mockRestore();
    }
  });

  it('stops listening when the module is destroyed', () => {
    const { service, change, sent, listeners } = setUp();
    service.onModuleDestroy();
    expect(listeners.size).toBe(0);
    change({ organizationId: 'org-1', userId: null, service: 'xero', change: 'stored' });
    expect(sent).toEqual([]);
  });
});
