/**
 * The MCP module's access rules with real clients over HTTP: tools/list shows
 * only what the caller's key may call; calling a hidden tool names the missing
 * permission; a resource the key may not read is not listed, read, subscribed
 * to or completed; a 2025-era session is bound to the key that opened it. The
 * principal is set by a stand-in for the auth guard (the guard has its own e2e
 * suite); everything under test here is the real MCP module.
 */
import { Injectable, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { NextFunction, Request, Response } from 'express';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { INestApplication } from '@nestjs/common';
import { ConfigModule } from '../../src/config/config.module';
import { loadConfig } from '../../src/config/load-config';
import { McpModule } from '../../src/mcp/mcp.module';
import { Resource, Tool } from '../../src/mcp/mcp.decorators';
import { KeyValueStore } from '../../src/store/key-value-store';
import { MemoryStore } from '../../src/store/memory.store';
import { PRINCIPAL_REQUEST_KEY } from '../../src/auth/principal';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

@Injectable()
class LedgerTools {
  @Tool({
    name: 'ledger_read',
    description: 'Reads the ledger',
    input: z.object({ account: z.string() }),
    permission: 'xero:read',
  })
  read(_ctx: unknown, args: { account: string }) {
    return { account: args.account, balance: 42 };
  }
}

@Injectable()
class LedgerResources {
  @Resource({ uri: 'ledger://balances', name: 'balances', permission: 'xero:read' })
  balances(_ctx: unknown, uri: URL) {
    return { contents: [{ uri: uri.href, text: 'balances' }] };
  }

  @Resource({
    uriTemplate: 'ledger://accounts/{code}',
    name: 'account',
    permission: ['xero:read', 'unleashed:read'],
    complete: { code: () => ['200', '210'] },
  })
  account(_ctx: unknown, uri: URL) {
    return { contents: [{ uri: uri.href, text: 'account' }] };
  }

  /** Completes `{n}` with as many candidates as the value asks for (`100` → 100 of them). */
  @Resource({
    uriTemplate: 'ledger://journals/{n}',
    name: 'journal',
    complete: { n: (value) => Array.from({ length: Number(value) }, (_, i) => `j${i}`) },
  })
  journal(_ctx: unknown, uri: URL) {
    return { contents: [{ uri: uri.href, text: 'journal' }] };
  }
}

/** Stand-in for the auth guard: `x-test-key: <id>|<perm,perm>` becomes the principal. */
function principalFromHeader(req: Request, _res: Response, next: NextFunction): void {
  const raw = req.header('x-test-key');
  if (raw) {
    const [keyId, perms] = raw.split('|');
    (req as unknown as Record<string, unknown>)[PRINCIPAL_REQUEST_KEY] = {
      keyId,
      userId: 'u1',
      organizationId: 'o1',
      permissions: perms ? perms.split(',') : [],
    };
  }
  next();
}

@Module({
  providers: [LedgerTools, LedgerResources, { provide: KeyValueStore, useValue: new MemoryStore() }],
  exports: [KeyValueStore],
})
class TestSupportModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(principalFromHeader).forRoutes('{*path}');
  }
}

describe('MCP access rules (real MCP module, real clients)', () => {
  let app: INestApplication;
  let url: URL;

  beforeAll(async () => {
    const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: mkdtempSync(join(tmpdir(), 'sentia-mcpperm-')) });
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), { module: TestSupportModule, global: true }, McpModule],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    const { json } = await import('express');
    app.use(json());
    await app.listen(0, '127.0.0.1');
    url = new URL(`http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/mcp`);
  });
  afterAll(async () => app?.close());

  async function connect(key: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
    const client = new Client({ name: 'perm-test', version: '1' });
    const transport = new StreamableHTTPClientTransport(url, {
      requestInit: { headers: { 'x-test-key': key } },
    });
    await client.connect(transport);
    return { client, transport };
  }

  it('lists a permissioned tool only to keys that hold the permission (or admin)', async () => {
    for (const [key, visible] of [
      ['k-reader|xero:read', true],
      ['k-admin|admin', true],
      ['k-other|shopify:read', false],
    ] as const) {
      const { client } = await connect(key);
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names.includes('ledger_read')).toBe(visible);
      expect(names).toContain('server_info');
      await client.close();
    }
  });

  it('answers a call without the permission with an error naming the permission, and serves the holder', async () => {
    const denied = await connect('k-other|shopify:read');
    const refused = await denied.client.callTool({ name: 'ledger_read', arguments: { account: '200' } });
    expect(refused.isError).toBe(true);
    expect(JSON.stringify(refused.content)).toContain('requires the permission \\"xero:read\\"');
    await denied.client.close();

    const allowed = await connect('k-reader|xero:read');
    const ok = await allowed.client.callTool({ name: 'ledger_read', arguments: { account: '200' } });
    expect(ok.structuredContent).toEqual({ account: '200', balance: 42 });
    await allowed.client.close();
  });

  it('shows, reads, subscribes and completes a resource only for a key holding every permission it names', async () => {
    const uris = async (client: Client) => ({
      fixed: (await client.listResources()).resources
        .map((r) => r.uri)
        .filter((u) => u.startsWith('ledger:')),
      templates: (await client.listResourceTemplates()).resourceTemplates
        .map((t) => t.uriTemplate)
        .filter((u) => u.startsWith('ledger://accounts/')),
    });
    const holder = await connect('k-both|xero:read,unleashed:read');
    expect(await uris(holder.client)).toEqual({
      fixed: ['ledger://balances'],
      templates: ['ledger://accounts/{code}'],
    });
    expect((await holder.client.readResource({ uri: 'ledger://balances' })).contents).toEqual([
      { uri: 'ledger://balances', text: 'balances' },
    ]);
    expect((await holder.client.readResource({ uri: 'ledger://accounts/200' })).contents).toEqual([
      { uri: 'ledger://accounts/200', text: 'account' },
    ]);
    await expect(holder.client.subscribeResource({ uri: 'ledger://accounts/200' })).resolves.toEqual({});
    const completion = await holder.client.complete({
      ref: { type: 'ref/resource', uri: 'ledger://accounts/{code}' },
      argument: { name: 'code', value: '2' },
    });
    expect(completion.completion.values).toEqual(['200', '210']);
    await holder.client.close();

    // xero:read alone: the fixed resource, not the template that also needs unleashed:read.
    const partial = await connect('k-xero|xero:read');
    expect(await uris(partial.client)).toEqual({ fixed: ['ledger://balances'], templates: [] });
    await expect(partial.client.readResource({ uri: 'ledger://accounts/200' })).rejects.toThrow(
      /Resource not found: ledger:\/\/accounts\/200/,
    );
    await partial.client.close();

    const other = await connect('k-other|shopify:read');
    expect(await uris(other.client)).toEqual({ fixed: [], templates: [] });
    for (const uri of ['ledger://balances', 'ledger://accounts/200']) {
      await expect(other.client.readResource({ uri })).rejects.toThrow(/Resource not found/);
      await expect(other.client.subscribeResource({ uri })).rejects.toThrow(/Resource not found/);
    }
    for (const uri of ['ledger://accounts/{code}', 'ledger://balances']) {
      await expect(
        other.client.complete({ ref: { type: 'ref/resource', uri }, argument: { name: 'code', value: '2' } }),
      ).rejects.toThrow(/Unknown resource or resource template/);
    }
    await other.client.close();
  });

  it('answers at most 100 completions, with the total, and says hasMore only past 100', async () => {
    const { client } = await connect('k-any|');
    const complete = async (value: string) =>
      (
        await client.complete({
          ref: { type: 'ref/resource', uri: 'ledger://journals/{n}' },
          argument: { name: 'n', value },
        })
      ).completion;
    for (const [asked, values, hasMore] of [
      [99, 99, false],
      [100, 100, false],
      [101, 100, true],
    ] as const) {
      const c = await complete(String(asked));
      expect([asked, c.values.length, c.total, c.hasMore]).toEqual([asked, values, asked, hasMore]);
    }
    await client.close();
  });

  it('refuses another key the use of a session it did not open (404, as if unknown)', async () => {
    const { client, transport } = await connect('k-owner|xero:read');
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': transport.sessionId!,
        'mcp-protocol-version': '2025-11-25',
        'x-test-key': 'k-thief|xero:read',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
    });
    expect(res.status).toBe(404);
    // The owner still uses it.
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await client.close();
  });
});
