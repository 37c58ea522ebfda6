import type { ServerEvent } from '@modelcontextprotocol/server';
import { OrganisationEventBus } from './organisation-event-bus';

const UPDATED: ServerEvent = { kind: 'resource_updated', uri: 'sentia://connectors' };
const of = (organizationId: string, permissions: string[] = []) => ({ organizationId, permissions });

describe('OrganisationEventBus', () => {
  it("delivers an organisation's event only to the listeners subscribed in its runAs", async () => {
    const bus = new OrganisationEventBus();
    const heard: string[] = [];
    bus.runAs(of('org-a'), () => bus.subscribe(() => heard.push('a')));
    // Subscribed after an await, as the SDK's listen router does inside the request: the context carries.
    await bus.runAs(of('org-b'), async () => {
      await Promise.resolve();
      bus.subscribe(() => heard.push('b'));
    });
    bus.publishTo('org-a', UPDATED);
    expect(heard).toEqual(['a']);
    bus.publishTo('org-b', UPDATED);
    expect(heard).toEqual(['a', 'b']);
    bus.publishTo('org-c', UPDATED);
    expect(heard).toEqual(['a', 'b']);
  });

  it('never calls a listener subscribed without an organisation', () => {
    const bus = new OrganisationEventBus();
    const heard: string[] = [];
    bus.subscribe(() => heard.push('outside'));
    bus.runAs(undefined, () => bus.subscribe(() => heard.push('anonymous')));
    // runAs(undefined) inside another organisation's runAs does not inherit it.
    bus.runAs(of('org-a'), () => bus.runAs(undefined, () => bus.subscribe(() => heard.push('nested'))));
    bus.publishTo('org-a', UPDATED);
    expect(heard).toEqual([]);
    expect(bus.size).toBe(0);
  });

  it('unsubscribes once, idempotently, and a throwing listener does not stop the others', () => {
    const errors: string[] = [];
    const bus = new OrganisationEventBus((e) => errors.push(e.message));
    const heard: string[] = [];
    bus.runAs(of('org-a'), () =>
      bus.subscribe(() => {
        throw new Error('broken stream');
      }),
    );
    const stop = bus.runAs(of('org-a'), () => bus.subscribe(() => heard.push('second')));
    bus.publishTo('org-a', UPDATED);
    expect(heard).toEqual(['second']);
    expect(errors).toEqual(['broken stream']);
    stop();
    stop();
    expect(bus.size).toBe(1);
    bus.publishTo('org-a', UPDATED);
    expect(heard).toEqual(['second']);
  });

  it("refuses the SDK's publish, which names no organisation", () => {
    const bus = new OrganisationEventBus();
    const heard: string[] = [];
    bus.runAs(of('org-a'), () => bus.subscribe(() => heard.push('a')));
    expect(() => bus.publish(UPDATED)).toThrow(/names no organisation/);
    expect(heard).toEqual([]);
  });

  it("delivers to the organisation's listeners whose key mayHear the event, and to no other", () => {
    const bus = new OrganisationEventBus();
    const heard: string[] = [];
    bus.runAs(of('org-a', ['xero:read']), () => bus.subscribe(() => heard.push('xero')));
    bus.runAs(of('org-a', ['shopify:read']), () => bus.subscribe(() => heard.push('shopify')));
    bus.runAs(of('org-b', ['xero:read']), () => bus.subscribe(() => heard.push('other org')));
    bus.publishTo('org-a', UPDATED, (permissions) => permissions.includes('xero:read'));
    expect(heard).toEqual(['xero']);
    bus.publishTo('org-a', UPDATED);
    expect(heard).toEqual(['xero', 'xero', 'shopify']);
  });
});
