import { Injectable } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { z } from 'zod';
import { Prompt, Resource, Tool } from './mcp.decorators';
import { McpRegistry } from './mcp-registry.service';

async function registryWith(...providers: (new (...args: never[]) => unknown)[]): Promise<McpRegistry> {
  const moduleRef = await Test.createTestingModule({
    imports: [DiscoveryModule],
    providers: [McpRegistry, ...providers],
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

  it('refuses arguments a tool does not declare, and its JSON Schema says so', async () => {
    const registry = await registryWith(Greeter);
    const tool = registry.tools.get('greet')!;
    expect(tool.inputJsonSchema).toMatchObject({ additionalProperties: false });
    expect(tool.input.safeParse({ name: 'Ada' }).success).toBe(true);
    const extra = tool.input.safeParse({ name: 'Ada', nmae: 'typo' });
    expect(extra.success).toBe(false);
    expect(extra.error?.issues[0]).toMatchObject({ code: 'unrecognized_keys', keys: ['nmae'] });
  });

  it.each([
    [
      DuplicateGreeter,
      /Duplicate MCP tool name "greet": declared by Greeter.greet and DuplicateGreeter.greet/,
    ],
    [BadName, /Invalid MCP tool name "has space" on BadName.run/],
    [BadSchema, /input schema of MCP tool "bad_schema" on BadSchema.run must be a zod object schema/],
    [Unrepresentable, /MCP tool "dates" on Unrepresentable.run cannot be expressed as JSON Schema/],
    [NonStringPromptArg, /Argument "n" of MCP prompt "p" on NonStringPromptArg.run must be a string schema/],
  ])('stops startup on a broken declaration (%p)', async (provider, message) => {
    await expect(registryWith(Greeter, provider)).rejects.toThrow(message);
  });
});
