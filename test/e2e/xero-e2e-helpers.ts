/**
 * For the Xero connector e2e specs: an organisation with its admin and
 * xero:read keys, its Xero credentials stored through PUT /credentials/xero,
 * and tool calls through the real MCP SDK client. Every tool result is kept,
 * so a spec can check that no secret ever came back in one.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Permission } from '../../src/auth/tokens/permissions';
import { registerSecret } from '../support/capture';
import { startApp, StartedApp } from '../support/start-app';
import type { XeroSimulator } from '../simulators/xero.simulator';
import { issueKey } from './auth-helpers';

export interface ToolResult {
  isError?: boolean;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
}

/** Every tool result of the run, serialised whole. */
export const seenResults: string[] = [];

/** Every client connected in the run, closed by `closeCallers`. */
const callers: McpCaller[] = [];

export async function closeCallers(): Promise<void> {
  await Promise.all(callers.splice(0).map((c) => c.close().catch(() => undefined)));
}

export class McpCaller {
  private constructor(private readonly client: Client) {}

  static async connect(started: StartedApp, token: string): Promise<McpCaller> {
    const client = new Client({ name: 'xero-e2e', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${started.url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    });
    await client.connect(transport);
    const caller = new McpCaller(client);
    callers.push(caller);
    return caller;
  }

  async call(name: string, args: Record<string, unknown> = {}): Promise<ToolResult> {
    const result = await this.client.callTool({ name, arguments: args });
    seenResults.push(JSON.stringify(result));
    const content = result.content as { type: string; text?: string }[];
    const text = content.map((c) => c.text ?? '').join('\n');
    return { isError: result.isError as boolean | undefined, text, data: result.structuredContent };
  }

  async toolNames(): Promise<string[]> {
    return (await this.tools()).map((t) => t.name);
  }

  async tools() {
    return (await this.client.listTools()).tools;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

export interface Org {
  id: string;
  /** Holds `xero:read`. */
  mcp: McpCaller;
  /** Stores the organisation's Xero credentials (PUT /credentials/xero with an admin key). */
  storeXero(body: Record<string, unknown>): Promise<void>;
  /** Removes them (DELETE /credentials/xero). */
  deleteXero(): Promise<void>;
}

export async function makeOrg(
  started: StartedApp,
  id: string,
  permissions: Permission[] = ['xero:read'],
): Promise<Org> {
  const admin = await issueKey(started, id, ['admin'], `${id} admin`);
  const reader = await issueKey(started, id, permissions, `${id} reader`);
  const mcp = await McpCaller.connect(started, reader.token);
  return {
    id,
    mcp,
    storeXero: async (body) => {
      for (const field of ['clientSecret', 'refreshToken'] as const)
        registerSecret(body[field] as string | undefined, `xero e2e ${id} ${field}`);
      const res = await fetch(`${started.url}/credentials/xero`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (res.status !== 200 && res.status !== 201)
        throw new Error(`PUT /credentials/xero answered ${res.status}: ${await res.text()}`);
    },
    deleteXero: async () => {
      const res = await fetch(`${started.url}/credentials/xero`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${admin.token}` },
      });
      if (res.status !== 204) throw new Error(`DELETE /credentials/xero answered ${res.status}`);
    },
  };
}

/** The whole app against the simulator, its breaker and rate limits out of the way of a spec's many calls. */
export function startXeroApp(sim: XeroSimulator, env: Record<string, string> = {}): Promise<StartedApp> {
  return startApp({
    XERO_API_BASE_URL: sim.url,
    XERO_IDENTITY_BASE_URL: sim.url,
    // These specs count what reaches the upstream; the answer cache has a spec of its own (tool-result-cache).
    MCP_TOOL_CACHE_TTL: '0',
    UPSTREAM_BREAKER_FAILURES: '100',
    // The MCP client's calls of a spec come from one IP and go well past the default limits.
    RATE_LIMIT_IP_MAX: '100000',
    RATE_LIMIT_MAX: '100000',
    ...env,
  });
}

/** After a spec: the simulator's tokens registered as secrets (for the capture sweep), then everything closed. */
export async function closeXeroApp(sim?: XeroSimulator, started?: StartedApp): Promise<void> {
  for (const t of sim?.issued ?? []) registerSecret(t, 'xero simulator token');
  await closeCallers();
  await started?.close();
  await sim?.close();
}

/** Resolves after `ms`. */
export const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
