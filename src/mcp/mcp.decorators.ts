import type { ToolAnnotations } from '@modelcontextprotocol/server';
import type { z } from 'zod';
import type { Permission } from '../auth/tokens/permissions';

/**
 * Decorators that turn methods of ordinary Nest providers into MCP tools,
 * resources and prompts. They only record metadata; `McpRegistry` discovers
 * them once at bootstrap and validates them (a duplicate name or an invalid
 * schema stops startup).
 *
 *   @Tool({ name: 'xero_list_invoices', description: '...', input: z.object({...}), permission: 'xero:read' })
 *   async listInvoices(ctx: ToolContext, args: { status?: string }) { ... }
 */

export const MCP_TOOL = Symbol('mcp:tool');
export const MCP_RESOURCE = Symbol('mcp:resource');
export const MCP_PROMPT = Symbol('mcp:prompt');

/** A zod object schema (`z.object({...})`) describing a tool's or prompt's arguments. */
export type ObjectSchema = z.ZodObject<z.ZodRawShape>;

/**
 * What a resource or prompt needs of a key: one permission, or a non-empty list
 * of them, ALL of which the key must hold (a prompt reading two systems needs
 * both systems' permissions). A key lacking one does not see it, as one lacking
 * a single permission does not.
 */
export type PermissionRequirement = Permission | readonly [Permission, ...Permission[]];

export interface ToolOptions {
  /** 1-128 characters of A-Z a-z 0-9 _ - . (MCP tool naming rules); unique across the server. */
  name: string;
  title?: string;
  description: string;
  /** Argument schema; absent means the tool takes no arguments. */
  input?: ObjectSchema;
  /** Optional output schema: results must then carry matching `structuredContent`. */
  output?: ObjectSchema;
  /** The permission a caller's key must hold; absent means any authenticated caller. */
  permission?: Permission;
  annotations?: ToolAnnotations;
  /**
   * The tool's answers may be reused for a short while (MCP_TOOL_CACHE_TTL) for
   * the same organisation and arguments; only for read-only tools
   * (`annotations.readOnlyHint`). The tool gains a `fresh` argument that skips
   * a cached answer. See ToolResultCache.
   */
  cache?: ToolCacheOptions;
}

export interface ToolCacheOptions {
  /**
   * The stored credentials (`xero`, `shopify`, ...) the answers depend on:
   * a cached answer is only reused while the organisation's credentials for
   * this service are the ones it was fetched with.
   */
  credentials: string;
}

export interface ResourceOptions {
  /** A fixed URI (`test://static-text`) ... */
  uri?: string;
  /** ... or an RFC 6570 template (`test://template/{id}/data`). Exactly one of the two. */
  uriTemplate?: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  /** The permission, or the permissions (all of them), a key must hold; absent means any authenticated caller. */
  permission?: PermissionRequirement;
  /** Completion for template variables: variable name → candidate values for a prefix. */
  complete?: Record<string, (value: string) => string[] | Promise<string[]>>;
}

export interface PromptOptions {
  name: string;
  title?: string;
  description?: string;
  /** Prompt arguments; every field must be a string schema (MCP prompt arguments are strings). */
  args?: ObjectSchema;
  /** The permission, or the permissions (all of them), a key must hold; absent means any authenticated caller. */
  permission?: PermissionRequirement;
  /** Completion for arguments: argument name → candidate values for a prefix. */
  complete?: Record<string, (value: string) => string[] | Promise<string[]>>;
}

function methodDecorator<T>(key: symbol, options: T): MethodDecorator {
  return (_target, _propertyKey, descriptor) => {
    Reflect.defineMetadata(key, options, descriptor.value as object);
    return descriptor;
  };
}

/** Marks a provider method as an MCP tool: `(ctx: ToolContext, args) => result`. */
export const Tool = (options: ToolOptions): MethodDecorator => methodDecorator(MCP_TOOL, options);

/** Marks a provider method as an MCP resource: `(ctx: McpCallContext, uri: URL, variables) => ReadResourceResult`. */
export const Resource = (options: ResourceOptions): MethodDecorator => methodDecorator(MCP_RESOURCE, options);

/** Marks a provider method as an MCP prompt: `(ctx: McpCallContext, args) => GetPromptResult`. */
export const Prompt = (options: PromptOptions): MethodDecorator => methodDecorator(MCP_PROMPT, options);
