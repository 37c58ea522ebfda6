import { Injectable } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { z } from 'zod';
import { APP_CONFIG } from '../config/config.module';
import { Prompt, Resource, Tool } from './mcp.decorators';
import { McpRegistry } from './mcp-registry.service';

async function registryWith(...providers: (new (...args: never[]) => unknown)[]): Promise<McpRegistry> {
  return registryWithCacheTtl(undefined, ...providers);
}

async function registryWithCacheTtl(
  toolCacheTtlSeconds: number | undefined,
  ...providers: (new (...args: never[]) => unknown)[]
): Promise<McpRegistry> {
  const config =
    toolCacheTtlSeconds === undefined
      ? []
      : [{ provide: APP_CONFIG, useValue: { mcp: { toolCacheTtlSeconds } } }];
  const moduleRef = await Test.createTestingModule({
    imports: [DiscoveryModule],
    providers: [McpRegistry, ...config, ...providers],
  }).compile();
  moduleRef.useLogger(false);
  await moduleRef.init();
  return moduleRef.get(McpRegistry);
}

@Injectable()
class Greeter {
  @Tool({
    name: 'greet',
    description: 'Greets',
    input: z.object({ name: z.string().describe('who') }),
    permission: 'ai:invoke',
  })
  greet(_ctx: unknown, args: { name: string }) {
    return `hello ${args.name}`;
  }

  @Resource({
    uriTemplate: 'greeting://{lang}/{name}',
    name: 'greeting',
    complete: { lang: () => ['en', 'fr'] },
  })
  greeting() {
    return { contents: [] };
  }

  @Prompt({ name: 'welcome', args: z.object({ name: z.string(), tone: z.string().optional() }) })
  welcome() {
    return { messages: [] };
  }
}

@Injectable()
class DuplicateGreeter {
  @Tool({ name: 'greet', description: 'Greets again' })
  greet() {
    return 'again';
  }
}

@Injectable()
class BadName {
  @Tool({ name: 'has space', description: 'x' })
  run() {
    return 1;
  }
}

@Injectable()
class BadSchema {
  @Tool({ name: 'bad_schema', description: 'x', input: z.string() as never })
  run() {
    return 1;
  }
}

@Injectable()
class Unrepresentable {
  @Tool({ name: 'dates', description: 'x', input: z.object({ when: z.date() }) })
  run() {
    return 1;
  }
}

@Injectable()
class NonStringPromptArg {
  @Prompt({ name: 'p', args: z.object({ n: z.number() }) })
  run() {
    return { messages: [] };
  }
}

@Injectable()
class CachedReader {
  @Tool({
    name: 'read_things',
    description: 'Reads things',
    input: z.object({ q: z.string().optional() }),
    annotations: { readOnlyHint: true },
    cache: { credentials: 'unleashed' },
  })
  read(_ctx: unknown, args: unknown) {
    return args;
  }
}

@Injectable()
class CachedWriter {
  @Tool({ name: 'write_things', description: 'Writes', cache: { credentials: 'unleashed' } })
  write() {
    return 1;
  }
}

@Injectable()
class CachedWithOwnFresh {
  @Tool({
    name: 'own_fresh',
    description: 'x',
    input: z.object({ fresh: z.string() }),
    annotations: { readOnlyHint: true },
    cache: { credentials: 'xero' },
  })
  run() {
    return 1;
  }
}

@Injectable()
class TwoSystemPrompt {
  @Prompt({ name: 'both', permission: ['shopify:read', 'unleashed:read'] })
  both() {
    return { messages: [] };
  }

  @Resource({ uri: 'both://x', name: 'both', permission: ['xero:read', 'shopify:read'] })
  read() {
    return { contents: [] };
  }
}

@Injectable()
class EmptyPermissionList {
  @Prompt({ name: 'empty', permission: [] as never })
  run() {
    return { messages: [] };
  }
}

@Injectable()
class UnknownPermission {
  @Resource({ uri: 'x://y', name: 'unknown', permission: ['xero:read', 'xero:write'] as never })
  run() {
    return { contents: [] };
  }
}

@Injectable()
class RepeatedPermission {
  @Prompt({ name: 'twice', permission: ['xero:read', 'xero:read'] })
  run() {
    return { messages: [] };
  }
}

describe('McpRegistry', () => {
  it('discovers decorated methods once, with JSON Schema computed at bootstrap', async () => {
    const registry = await registryWith(Greeter);
    const tool = registry.tools.get('greet')!;
    expect(tool.owner).toBe('Greeter.greet');
    expect(tool.inputJsonSchema).toMatchObject({
      type: 'object',
      properties: { name: { type: 'string', description: 'who' } },
      required: ['name'],
    });
    expect(await tool.handler({}, { name: 'Ada' })).toBe('hello Ada');
    expect(registry.matchResource('greeting://en/ada')?.variables).toEqual({ lang: 'en', name: 'ada' });
    expect(registry.matchResource('other://x')).toBeUndefined();
    expect(registry.prompts.get('welcome')!.arguments).toEqual([
      { name: 'name', description: undefined, required: true },
      { name: 'tone', description: undefined, required: false },
    ]);
  });

  it('keeps a prompt’s or resource’s list of permissions as declared', async () => {
    const registry = await registryWith(TwoSystemPrompt);
    expect(registry.prompts.get('both')!.options.permission).toEqual(['shopify:read', 'unleashed:read']);
    expect(registry.resources.get('both://x')!.options.permission).toEqual(['xero:read', 'shopify:read']);
  });

  it('refuses arguments a tool does not declare, and its JSON Schema says so', async () => {
    const registry = await registryWith(Greeter);
    const tool = registry.tools.get('greet')!;
    expect(tool.inputJsonSchema).toMatchObject({ additionalProperties: false });
    expect(tool.input.safeParse({ name: 'Ada' }).success).toBe(true);
    const extra = tool.input.safeParse({ name: 'Ada', nmae: 'typo' });
    expect(extra.success).toBe(false);
    expect(extra.error?.issues[0]).toMatchObject({ code: 'unrecognized_keys', keys: ['nmae'] });
  });

  it('gives a cached tool a `fresh` argument (boolean, default false) while the cache is on', async () => {
    const registry = await registryWithCacheTtl(45, CachedReader, Greeter);
    const tool = registry.tools.get('read_things')!;
    expect(tool.cached).toBe(true);
    expect(tool.inputJsonSchema).toMatchObject({
      additionalProperties: false,
      properties: { q: { type: 'string' }, fresh: { type: 'boolean', default: false } },
    });
    const props = tool.inputJsonSchema.properties as Record<string, { description?: string }>;
    expect(props.fresh.description).toContain('45 s');
    expect(tool.input.parse({ q: 'x' })).toEqual({ q: 'x', fresh: false });
    expect(tool.input.safeParse({ fresh: 'yes' }).success).toBe(false);
    // A tool that does not declare cache is untouched.
    expect(registry.tools.get('greet')!.cached).toBe(false);
    expect(registry.tools.get('greet')!.inputJsonSchema.properties).not.toHaveProperty('fresh');
  });

  it.each([0, undefined])('leaves cached tools as declared when the cache is off (TTL %p)', async (ttl) => {
    const tool = (await registryWithCacheTtl(ttl, CachedReader)).tools.get('read_things')!;
    expect(tool.cached).toBe(false);
    expect(tool.inputJsonSchema.properties).not.toHaveProperty('fresh');
    expect(tool.input.safeParse({ fresh: true }).success).toBe(false);
  });

  it.each([
    [CachedWriter, /MCP tool "write_things" on CachedWriter.write declares cache but is not read-only/],
    [
      CachedWithOwnFresh,
      /MCP tool "own_fresh" on CachedWithOwnFresh.run declares cache and its own "fresh" argument/,
    ],
  ])(
    'refuses a cache declaration it cannot honour (%p), whether or not the cache is on',
    async (provider, message) => {
      await expect(registryWithCacheTtl(30, provider)).rejects.toThrow(message);
      await expect(registryWithCacheTtl(0, provider)).rejects.toThrow(message);
    },
  );

  it.each([
    [
      DuplicateGreeter,
      /Duplicate MCP tool name "greet": declared by Greeter.greet and DuplicateGreeter.greet/,
    ],
    [BadName, /Invalid MCP tool name "has space" on BadName.run/],
    [BadSchema, /input schema of MCP tool "bad_schema" on BadSchema.run must be a zod object schema/],
    [Unrepresentable, /MCP tool "dates" on Unrepresentable.run cannot be expressed as JSON Schema/],
    [NonStringPromptArg, /Argument "n" of MCP prompt "p" on NonStringPromptArg.run must be a string schema/],
    [EmptyPermissionList, /MCP prompt "empty" on EmptyPermissionList.run declares an empty permission list/],
    [
      UnknownPermission,
      /MCP resource "unknown" on UnknownPermission.run declares an unknown permission "xero:write"/,
    ],
    [RepeatedPermission, /MCP prompt "twice" on RepeatedPermission.run names a permission twice/],
  ])('stops startup on a broken declaration (%p)', async (provider, message) => {
    await expect(registryWith(Greeter, provider)).rejects.toThrow(message);
  });
});
