import { Injectable, Logger, OnModuleInit, Optional } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { UriTemplate } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { isPermission } from '../auth/tokens/permissions';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import {
  MCP_PROMPT,
  MCP_RESOURCE,
  MCP_TOOL,
  ObjectSchema,
  PermissionRequirement,
  PromptOptions,
  ResourceOptions,
  ToolOptions,
} from './mcp.decorators';

type Handler = (...args: unknown[]) => unknown;
type JsonObject = Record<string, unknown>;

export interface RegisteredTool {
  options: ToolOptions;
  /** JSON Schema (2020-12) of the arguments, computed once at bootstrap. */
  inputJsonSchema: JsonObject;
  outputJsonSchema?: JsonObject;
  input: ObjectSchema;
  handler: Handler;
  /** `ClassName.method`, for error messages and logs. */
  owner: string;
  /**
   * Whether the pipeline may answer from the tool result cache: the tool
   * declares `cache` and the cache is on. Its input then has `fresh`, which the
   * pipeline takes off before the tool sees its arguments.
   */
  cached: boolean;
}

/** The argument every cached tool gains: skip the cached answer. */
export const FRESH_ARGUMENT = 'fresh';

export interface RegisteredResource {
  options: ResourceOptions;
  template?: UriTemplate;
  handler: Handler;
  owner: string;
}

export interface RegisteredPrompt {
  options: PromptOptions;
  args?: ObjectSchema;
  arguments: { name: string; description?: string; required: boolean }[];
  handler: Handler;
  owner: string;
}

/** Thrown at bootstrap for a broken declaration; the message names the tool and its owner. */
export class McpDeclarationError extends Error {
  override name = 'McpDeclarationError';
}

const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const EMPTY_INPUT: ObjectSchema = z.object({}).strict();

/**
 * Collects `@Tool`, `@Resource` and `@Prompt` methods from every provider once,
 * at module init, and fails startup loudly on a duplicate or invalid declaration.
 */
@Injectable()
export class McpRegistry implements OnModuleInit {
  private readonly logger = new Logger(McpRegistry.name);
  readonly tools = new Map<string, RegisteredTool>();
  readonly resources = new Map<string, RegisteredResource>();
  readonly templates: RegisteredResource[] = [];
  readonly prompts = new Map<string, RegisteredPrompt>();

  private readonly toolCacheTtlSeconds: number;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    @Optional() @InjectConfig() config?: AppConfig,
  ) {
    this.toolCacheTtlSeconds = config?.mcp.toolCacheTtlSeconds ?? 0;
  }

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      const proto = Object.getPrototypeOf(instance) as object;
      for (const method of this.scanner.getAllMethodNames(proto)) {
        const fn = instance[method];
        if (typeof fn !== 'function') continue;
        const owner = `${instance.constructor.name}.${method}`;
        const handler = (fn as Handler).bind(instance);
        const tool = Reflect.getMetadata(MCP_TOOL, fn) as ToolOptions | undefined;
        const resource = Reflect.getMetadata(MCP_RESOURCE, fn) as ResourceOptions | undefined;
        const prompt = Reflect.getMetadata(MCP_PROMPT, fn) as PromptOptions | undefined;
        if (tool) this.addTool(tool, handler, owner);
        if (resource) this.addResource(resource, handler, owner);
        if (prompt) this.addPrompt(prompt, handler, owner);
      }
    }
    this.logger.log(
      `MCP surface: ${this.tools.size} tools, ${this.resources.size + this.templates.length} resources, ${this.prompts.size} prompts`,
    );
  }

  private addTool(options: ToolOptions, handler: Handler, owner: string): void {
    if (!TOOL_NAME.test(options.name ?? '')) {
      throw new McpDeclarationError(
        `Invalid MCP tool name "${options.name}" on ${owner}: use 1-128 characters of A-Z a-z 0-9 _ - .`,
      );
    }
    const existing = this.tools.get(options.name);
    if (existing) {
      throw new McpDeclarationError(
        `Duplicate MCP tool name "${options.name}": declared by ${existing.owner} and ${owner}`,
      );
    }
    if (!options.description?.trim()) {
      throw new McpDeclarationError(`MCP tool "${options.name}" on ${owner} has no description`);
    }
    // Arguments a tool does not declare are refused by name, not dropped: a misspelt filter must not
    // quietly widen what a read returns. The JSON Schema says so too (additionalProperties: false).
    let declared: unknown = options.input ?? EMPTY_INPUT;
    const cached = options.cache !== undefined && this.toolCacheTtlSeconds > 0;
    if (options.cache) this.checkCacheable(options, declared, owner);
    if (cached) declared = (declared as ObjectSchema).extend({ [FRESH_ARGUMENT]: this.freshArgument() });
    const input = (declared instanceof z.ZodObject ? declared.strict() : declared) as ObjectSchema;
    const inputJsonSchema = toObjectJsonSchema(
      input,
      `input schema of MCP tool "${options.name}" on ${owner}`,
    );
    const outputJsonSchema = options.output
      ? toObjectJsonSchema(
          options.output,
          `output schema of MCP tool "${options.name}" on ${owner}`,
          'output',
        )
      : undefined;
    this.tools.set(options.name, {
      options,
      input,
      inputJsonSchema,
      outputJsonSchema,
      handler,
      owner,
      cached,
    });
  }

  /** Only a read-only tool's answers may be reused, and `fresh` must be free for the cache to add. */
  private checkCacheable(options: ToolOptions, declared: unknown, owner: string): void {
    if (options.annotations?.readOnlyHint !== true) {
      throw new McpDeclarationError(
        `MCP tool "${options.name}" on ${owner} declares cache but is not read-only (annotations.readOnlyHint)`,
      );
    }
    if (!options.cache?.credentials) {
      throw new McpDeclarationError(
        `MCP tool "${options.name}" on ${owner} declares cache without the credentials its answers depend on`,
      );
    }
    if (declared instanceof z.ZodObject && FRESH_ARGUMENT in declared.shape) {
      throw new McpDeclarationError(
        `MCP tool "${options.name}" on ${owner} declares cache and its own "${FRESH_ARGUMENT}" argument, which the cache adds`,
      );
    }
  }

  private freshArgument() {
    return z
      .boolean()
      .default(false)
      .describe(
        `true: fetch now rather than answer from the server's cache, where an answer to the same call ` +
          `may be kept for up to ${this.toolCacheTtlSeconds} s. Use it when the data may just have changed.`,
      );
  }

  private addResource(options: ResourceOptions, handler: Handler, owner: string): void {
    if (Boolean(options.uri) === Boolean(options.uriTemplate)) {
      throw new McpDeclarationError(
        `MCP resource "${options.name}" on ${owner} needs exactly one of uri or uriTemplate`,
      );
    }
    checkPermission(options.permission, `MCP resource "${options.name}" on ${owner}`);
    if (options.uri) {
      if (this.resources.has(options.uri)) {
        throw new McpDeclarationError(`Duplicate MCP resource URI "${options.uri}" (second one on ${owner})`);
      }
      this.resources.set(options.uri, { options, handler, owner });
      return;
    }
    if (this.templates.some((t) => t.options.uriTemplate === options.uriTemplate)) {
      throw new McpDeclarationError(
        `Duplicate MCP resource template "${options.uriTemplate}" (second one on ${owner})`,
      );
    }
    let template: UriTemplate;
    try {
      template = new UriTemplate(options.uriTemplate!);
    } catch (e) {
      throw new McpDeclarationError(
        `Invalid URI template "${options.uriTemplate}" on ${owner}: ${(e as Error).message}`,
      );
    }
    this.templates.push({ options, template, handler, owner });
  }

  private addPrompt(options: PromptOptions, handler: Handler, owner: string): void {
    if (this.prompts.has(options.name)) {
      throw new McpDeclarationError(`Duplicate MCP prompt name "${options.name}" (second one on ${owner})`);
    }
    checkPermission(options.permission, `MCP prompt "${options.name}" on ${owner}`);
    const args: RegisteredPrompt['arguments'] = [];
    if (options.args) {
      const schema = toObjectJsonSchema(
        options.args,
        `arguments of MCP prompt "${options.name}" on ${owner}`,
      );
      const props = (schema.properties ?? {}) as Record<string, { type?: string; description?: string }>;
      const required = new Set((schema.required as string[] | undefined) ?? []);
      for (const [name, prop] of Object.entries(props)) {
        if (prop.type !== 'string') {
          throw new McpDeclarationError(
            `Argument "${name}" of MCP prompt "${options.name}" on ${owner} must be a string schema`,
          );
        }
        args.push({ name, description: prop.description, required: required.has(name) });
      }
    }
    this.prompts.set(options.name, { options, args: options.args, arguments: args, handler, owner });
  }

  /** Finds the handler for a resource URI: an exact URI first, then the first matching template. */
  matchResource(
    uri: string,
  ): { resource: RegisteredResource; variables: Record<string, string | string[]> } | undefined {
    const exact = this.resources.get(uri);
    if (exact) return { resource: exact, variables: {} };
    for (const resource of this.templates) {
      const variables = resource.template!.match(uri);
      if (variables) return { resource, variables };
    }
    return undefined;
  }
}

/**
 * A resource's or prompt's permission: absent, one known permission, or a non-empty list of distinct
 * known ones. An empty list would read as "none needed" (every key), the opposite of what a list says.
 */
function checkPermission(permission: PermissionRequirement | undefined, what: string): void {
  if (permission === undefined) return;
  const list: readonly unknown[] = Array.isArray(permission) ? permission : [permission];
  if (list.length === 0) {
    throw new McpDeclarationError(
      `${what} declares an empty permission list: leave permission out for any key`,
    );
  }
  for (const p of list) {
    if (!isPermission(p))
      throw new McpDeclarationError(`${what} declares an unknown permission "${String(p)}"`);
  }
  if (new Set(list).size !== list.length) {
    throw new McpDeclarationError(`${what} names a permission twice`);
  }
}

function toObjectJsonSchema(schema: unknown, what: string, io: 'input' | 'output' = 'input'): JsonObject {
  if (!(schema instanceof z.ZodObject)) {
    throw new McpDeclarationError(`The ${what} must be a zod object schema (z.object({...}))`);
  }
  let json: JsonObject;
  try {
    json = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'throw' }) as JsonObject;
  } catch (e) {
    throw new McpDeclarationError(`The ${what} cannot be expressed as JSON Schema: ${(e as Error).message}`);
  }
  // Input schemas keep `$schema` (2020-12 is MCP's default dialect; SEP-1613 asks servers to preserve it).
  // Output schemas drop it: some clients compile them with draft-07 validators that reject the 2020-12 URI.
  if (io === 'output') delete json.$schema;
  if (json.type !== 'object') throw new McpDeclarationError(`The ${what} must describe an object`);
  return json;
}
