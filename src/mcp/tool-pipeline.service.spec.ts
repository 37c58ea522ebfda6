import { Logger } from '@nestjs/common';
import { z } from 'zod';
import type { Principal } from '../auth/principal';
import type { McpCallContext } from './mcp-context';
import type { RegisteredTool } from './mcp-registry.service';
import { ServiceUnavailableException } from '@nestjs/common';
import { ShutdownClock } from '../common/shutdown-clock';
import { mayAccess, ToolCallRecord, ToolError, ToolPipeline, ToolResultCache } from './tool-pipeline.service';

const principal = (permissions: string[]): Principal => ({
  keyId: 'k1',
  userId: 'u1',
  organizationId: 'o1',
  permissions,
});
const ctx = (p?: Principal): McpCallContext =>
  ({
    principal: p,
    requestId: 'req-1',
    signal: new AbortController().signal,
    era: 'legacy',
  }) as McpCallContext;

function tool(
  handler: (ctx: McpCallContext, args: never) => unknown,
  permission?: 'xero:read',
): RegisteredTool {
  const input = z.object({ invoice: z.object({ id: z.string().uuid(), lines: z.array(z.number()).min(1) }) });
  return {
    options: { name: 'xero_invoice', description: 'x', input, permission },
    input,
    inputJsonSchema: {},
    handler: handler as RegisteredTool['handler'],
    owner: 'T.m',
    cached: false,
  };
}

const VALID = { invoice: { id: '8f1c2a4e-1b2c-4d5e-8f90-123456789abc', lines: [1] } };

describe('ToolPipeline', () => {
  let pipeline: ToolPipeline;
  let records: ToolCallRecord[];

  beforeEach(() => {
    pipeline = new ToolPipeline();
    records = [];
    pipeline.addHook({ afterCall: (r) => void records.push(r) });
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });

  it('refuses a key without the permission, naming the permission, and does not run the tool', async () => {
    const handler = jest.fn();
    const result = await pipeline.call(tool(handler, 'xero:read'), ctx(principal(['shopify:read'])), VALID);
    expect(result.isError).toBe(true);
    expect(result.content[0]).toMatchObject({
      text: expect.stringContaining('requires the permission "xero:read"'),
    });
    expect(handler).not.toHaveBeenCalled();
    expect(records[0]).toMatchObject({ outcome: 'denied', errorCode: 'insufficient_permission' });
  });

  it("starts no tool in the stop's last moments: 503 for the client to retry elsewhere, and before then runs them", async () => {
    const clock = new ShutdownClock();
    const stopping = new ToolPipeline(clock);
    const handler = jest.fn(() => ({ ok: true }));
    clock.begin(60_000); // a long grace: calls are still taken
    expect((await stopping.call(tool(handler), ctx(principal(['admin'])), VALID)).isError).toBeFalsy();
    const late = new ShutdownClock();
    late.begin(0, Date.now() - 1_000); // a stop begun a second ago, of the shortest length: in its reserve
    const refused = new ToolPipeline(late).call(tool(handler), ctx(principal(['admin'])), VALID);
    await expect(refused).rejects.toBeInstanceOf(ServiceUnavailableException);
    await expect(refused).rejects.toMatchObject({ response: { code: 'shutting_down' } });
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('admits admin for any permission', async () => {
    const result = await pipeline.call(
      tool(() => 'ok', 'xero:read'),
      ctx(principal(['admin'])),
      VALID,
    );
    expect(result).toEqual({ content: [{ type: 'text', text: 'ok' }] });
  });

  it('names every bad argument path and does not run the tool', async () => {
    const handler = jest.fn();
    const result = await pipeline.call(tool(handler), ctx(), { invoice: { id: 'nope', lines: [] } });
    const text = (result.content[0] as { text: string }).text;
    expect(result.isError).toBe(true);
    expect(text).toMatch(/^Invalid arguments for tool "xero_invoice": /);
    expect(text).toContain('invoice.id');
    expect(text).toContain('invoice.lines');
    expect(handler).not.toHaveBeenCalled();
    expect(records[0]).toMatchObject({ outcome: 'invalid_arguments', args: undefined });
  });

  it('names an argument the tool does not take, with the ones it does', async () => {
    const handler = jest.fn();
    const strict = { ...tool(handler), input: tool(handler).input.strict() };
    const result = await pipeline.call(strict, ctx(), { ...VALID, invioce: 1 });
    expect(result).toEqual({
      content: [
        {
          type: 'text',
          text: 'Invalid arguments for tool "xero_invoice": invioce: is not a known field (known: invoice)',
        },
      ],
      isError: true,
    });
    expect(handler).not.toHaveBeenCalled();
  });

  it('passes the parsed arguments and shapes plain values into text plus structured content', async () => {
    const result = await pipeline.call(
      tool((_c, a: typeof VALID) => ({ got: a.invoice.lines })),
      ctx(),
      VALID,
    );
    expect(result.structuredContent).toEqual({ got: [1] });
    expect(JSON.parse((result.content[0] as { text: string }).text)).toEqual({ got: [1] });
    // The text is the structured content as compact JSON (no indentation to serialise, carry and read).
    expect(result.content).toEqual([{ type: 'text', text: '{"got":[1]}' }]);
    expect(records[0]).toMatchObject({
      outcome: 'success',
      args: VALID,
      tool: 'xero_invoice',
      requestId: 'req-1',
    });
  });

  it('passes a CallToolResult on as it is, recording one with isError as a tool error', async () => {
    const reported = { content: [{ type: 'text' as const, text: 'no such contact' }], isError: true };
    expect(
      await pipeline.call(
        tool(() => reported),
        ctx(),
        VALID,
      ),
    ).toBe(reported);
    expect(records[0]).toMatchObject({ outcome: 'tool_error', errorCode: 'tool_reported_error' });
    const fine = { content: [{ type: 'text' as const, text: 'done' }] };
    expect(
      await pipeline.call(
        tool(() => fine),
        ctx(),
        VALID,
      ),
    ).toBe(fine);
    expect(records[1]).toMatchObject({ outcome: 'success', errorCode: undefined });
  });

  it('gives structured content only for an object: an array, null, a string or nothing is text alone', async () => {
    const shaped = async (value: unknown) =>
      pipeline.call(
        tool(() => value),
        ctx(),
        VALID,
      );
    // MCP's structuredContent is a JSON object; an array there fails the client's result schema.
    expect(await shaped([1, 2])).toEqual({ content: [{ type: 'text', text: '[1,2]' }] });
    expect(await shaped(null)).toEqual({ content: [{ type: 'text', text: 'null' }] });
    expect(await shaped('plain')).toEqual({ content: [{ type: 'text', text: 'plain' }] });
    expect(await shaped(undefined)).toEqual({ content: [] });
  });

  it('turns a ToolError into an isError result with its message and code', async () => {
    const result = await pipeline.call(
      tool(() => {
        throw new ToolError(
          'Xero is rate limiting this organisation; retry after 30 seconds',
          'upstream_rate_limited',
        );
      }),
      ctx(),
      VALID,
    );
    expect(result).toEqual({
      isError: true,
      content: [{ type: 'text', text: 'Xero is rate limiting this organisation; retry after 30 seconds' }],
    });
    expect(records[0]).toMatchObject({ outcome: 'tool_error', errorCode: 'upstream_rate_limited' });
  });

  it('hides an unexpected error behind a generic message with the request id (no stack, no secret)', async () => {
    const result = await pipeline.call(
      tool(() => {
        throw new Error('connect to postgres://admin:s3cret@db failed');
      }),
      ctx(),
      VALID,
    );
    const text = (result.content[0] as { text: string }).text;
    expect(result.isError).toBe(true);
    expect(text).toContain('req-1');
    expect(text).not.toContain('s3cret');
    expect(text).not.toMatch(/at .*\.ts/);
    expect(records[0].outcome).toBe('internal_error');
  });

  it('answers only after every hook settled, and fails the call when a hook fails', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    pipeline.addHook({ afterCall: () => gate });
    let done = false;
    const call = pipeline
      .call(
        tool(() => 'ok'),
        ctx(),
        VALID,
      )
      .then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    release();
    await call;
    expect(done).toBe(true);

    pipeline.addHook({
      afterCall: () => {
        throw new Error('audit unavailable');
      },
    });
    await expect(
      pipeline.call(
        tool(() => 'ok'),
        ctx(),
        VALID,
      ),
    ).rejects.toThrow('audit unavailable');
  });

  it('logs one structured line per tool execution (name, outcome, duration; never the arguments)', async () => {
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    await pipeline.call(
      tool(() => 'ok'),
      ctx(),
      VALID,
    );
    await pipeline.call(
      tool(() => 'ok', 'xero:read'),
      ctx(principal([])),
      VALID,
    );
    const lines = log.mock.calls
      .map((c) => c[0] as Record<string, unknown>)
      .filter((l) => l.event === 'tool_execution');
    expect(lines).toEqual([
      expect.objectContaining({ tool: 'xero_invoice', outcome: 'success', durationMs: expect.any(Number) }),
      expect.objectContaining({
        tool: 'xero_invoice',
        outcome: 'denied',
        errorCode: 'insufficient_permission',
      }),
    ]);
    expect(JSON.stringify(lines)).not.toContain(VALID.invoice.id);
  });

  describe('a cached tool (declared with cache, the cache on)', () => {
    const input = z.object({ q: z.string(), fresh: z.boolean().default(false) }).strict();
    const cachedTool = (handler: (ctx: McpCallContext, args: never) => unknown): RegisteredTool => ({
      options: { name: 'read_things', description: 'x', input, annotations: { readOnlyHint: true } },
      input,
      inputJsonSchema: {},
      handler: handler as RegisteredTool['handler'],
      owner: 'T.m',
      cached: true,
    });

    it('runs the tool without `fresh` when no cache is registered', async () => {
      const handler = jest.fn((_c: McpCallContext, args: unknown) => ({ got: args }));
      const result = await pipeline.call(cachedTool(handler), ctx(principal(['admin'])), {
        q: 'a',
        fresh: true,
      });
      expect(handler).toHaveBeenCalledWith(expect.anything(), { q: 'a' });
      expect(result.structuredContent).toEqual({ got: { q: 'a' } });
    });

    it('goes through the registered cache with the arguments, `fresh` apart, and logs where the answer came from', async () => {
      const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
      log.mockClear();
      const seen: { args: unknown; fresh: boolean }[] = [];
      const cache: ToolResultCache = {
        through: async (_tool, _ctx, args, fresh, load) => {
          seen.push({ args, fresh });
          return fresh ? { value: await load(), cache: 'fresh' } : { value: { from: 'cache' }, cache: 'hit' };
        },
      };
      pipeline.useResultCache(cache);
      const handler = jest.fn((_c: McpCallContext, args: unknown) => ({ got: args }));
      const hit = await pipeline.call(cachedTool(handler), ctx(principal(['admin'])), { q: 'a' });
      expect(hit.structuredContent).toEqual({ from: 'cache' });
      expect(handler).not.toHaveBeenCalled();
      const fresh = await pipeline.call(cachedTool(handler), ctx(principal(['admin'])), {
        q: 'a',
        fresh: true,
      });
      expect(fresh.structuredContent).toEqual({ got: { q: 'a' } });
      expect(seen).toEqual([
        { args: { q: 'a' }, fresh: false },
        { args: { q: 'a' }, fresh: true },
      ]);
      // The audit record keeps the arguments as called.
      expect(records.map((r) => r.args)).toEqual([
        { q: 'a', fresh: false },
        { q: 'a', fresh: true },
      ]);
      const caches = log.mock.calls
        .map((c) => c[0] as Record<string, unknown>)
        .filter((l) => l.event === 'tool_execution')
        .map((l) => l.cache);
      expect(caches).toEqual(['hit', 'fresh']);
    });

    it("takes the cache's JSON of the answer as the text instead of serialising the answer again", async () => {
      const value = { items: [{ n: 1 }, { n: 2 }] };
      const json = JSON.stringify(value);
      pipeline.useResultCache({ through: async () => ({ value, cache: 'hit', json }) });
      const stringify = jest.spyOn(JSON, 'stringify');
      try {
        const result = await pipeline.call(cachedTool(jest.fn()), ctx(principal(['admin'])), { q: 'a' });
        expect(result).toEqual({ content: [{ type: 'text', text: json }], structuredContent: value });
        expect(stringify.mock.calls.filter(([v]) => v === value)).toHaveLength(0);
      } finally {
        stringify.mockRestore();
      }
    });

    it('does not consult the cache for a call it refuses', async () => {
      const through = jest.fn();
      pipeline.useResultCache({ through });
      const result = await pipeline.call(cachedTool(jest.fn()), ctx(principal(['admin'])), { q: 1 });
      expect(result.isError).toBe(true);
      expect(through).not.toHaveBeenCalled();
    });
  });
});

describe('mayAccess', () => {
  const key = (...permissions: string[]) =>
    ({ keyId: 'k', userId: 'u', organizationId: 'o', permissions }) as Principal;

  it('needs nothing when no permission is declared', () => {
    expect(mayAccess(undefined, key())).toBe(true);
    expect(mayAccess(undefined, undefined)).toBe(true);
  });

  it('one permission: the key must hold it (or admin)', () => {
    expect(mayAccess('xero:read', key('xero:read'))).toBe(true);
    expect(mayAccess('xero:read', key('shopify:read'))).toBe(false);
    expect(mayAccess('xero:read', key('admin'))).toBe(true);
    expect(mayAccess('xero:read', undefined)).toBe(false);
  });

  it('a list: the key must hold every permission in it (admin holds them all)', () => {
    const both = ['shopify:read', 'unleashed:read'] as const;
    expect(mayAccess(both, key('shopify:read', 'unleashed:read'))).toBe(true);
    expect(mayAccess(both, key('unleashed:read', 'xero:read', 'shopify:read'))).toBe(true);
    expect(mayAccess(both, key('shopify:read'))).toBe(false);
    expect(mayAccess(both, key('unleashed:read'))).toBe(false);
    expect(mayAccess(both, key('xero:read'))).toBe(false);
    expect(mayAccess(both, key())).toBe(false);
    expect(mayAccess(both, key('admin'))).toBe(true);
    expect(mayAccess(both, undefined)).toBe(false);
    expect(mayAccess(['ai:invoke'], key('ai:invoke'))).toBe(true);
    expect(mayAccess(['ai:invoke'], key('xero:read'))).toBe(false);
  });
});
