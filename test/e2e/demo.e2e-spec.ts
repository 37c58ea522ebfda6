/**
 * `npm run demo` (scripts/demo.ts, built to dist/scripts/demo.js): the
 * server with its five upstreams simulated and the demo organisation's
 * credentials stored. What it prints works: the key it gives reaches every
 * connector through its admin check and a tool call through MCP, and Ctrl-C
 * stops everything and removes the demo's data.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { freePort } from '../support/spawn-server';

const DEMO = join(__dirname, '..', '..', 'dist', 'scripts', 'demo.js');

describe('npm run demo', () => {
  let child: ChildProcess | undefined;
  let out = '';
  const exited = () =>
    new Promise<number | null>((resolve) =>
      child!.exitCode !== null ? resolve(child!.exitCode) : child!.once('exit', (code) => resolve(code)),
    );

  /** Starts the demo on a free port and waits for its instructions; returns the port. */
  async function startDemo(): Promise<number> {
    const port = await freePort();
    out = '';
    child = spawn(process.execPath, [DEMO], {
      env: { PATH: process.env.PATH ?? '', PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const deadline = Date.now() + 25_000;
    while (!/Ctrl-C stops/.test(out) && child.exitCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain('Ctrl-C stops');
    return port;
  }

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGINT');
      await exited();
    }
  });

  it('prints a key that reaches all five simulated upstreams, and Ctrl-C removes everything', async () => {
    expect(existsSync(DEMO)).toBe(true);
    const port = await startDemo();
    const token = /^export DEMO_TOKEN=(\S+)$/m.exec(out)![1];
    const dataDir = dirname(/Development secrets are kept in (\S+)"/.exec(out)![1]);
    expect(existsSync(dataDir)).toBe(true);
    const base = `http://127.0.0.1:${port}`;
    expect(out).toContain(`npx -y @modelcontextprotocol/inspector@0.17.1 --cli ${base}/mcp --transport http`);

    const auth = { authorization: `Bearer ${token}` };
    for (const service of ['xero', 'shopify', 'unleashed', 'anthropic', 'openai']) {
      const res = await fetch(`${base}/admin/connectors/${service}/check`, { method: 'POST', headers: auth });
      const body = (await res.json()) as { ok: boolean; detail?: string; message?: string };
      expect([service, res.status, body.ok]).toEqual([service, 200, true]);
      // One address for every demo client: the per-IP limit is not the default 100 a minute.
      expect(res.headers.get('ratelimit-limit')).toBe('1000');
    }

    const client = new Client({ name: 'demo-e2e', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: auth } }),
    );
    try {
      const tenantId = /--tool-arg tenantId=(\S+)/.exec(out)![1];
      const invoices = await client.callTool({ name: 'xero_list_invoices', arguments: { tenantId } });
      expect(invoices.isError).toBeFalsy();
      expect((invoices.structuredContent as { invoices: unknown[] }).invoices.length).toBeGreaterThan(0);
      const stock = await client.callTool({ name: 'unleashed_stock_on_hand', arguments: {} });
      expect(stock.isError).toBeFalsy();
    } finally {
      await client.close();
    }

    child!.kill('SIGINT');
    expect(await exited()).toBe(0);
    expect(existsSync(dataDir)).toBe(false);
    // Nothing of it keeps listening.
    await expect(fetch(`${base}/health`)).rejects.toThrow();
  });

  it('stops, and removes its data, when the server dies by a signal (killed, out of memory)', async () => {
    await startDemo();
    const dataDir = dirname(/Development secrets are kept in (\S+)"/.exec(out)![1]);
    const server = Number(execFileSync('pgrep', ['-P', String(child!.pid)], { encoding: 'utf8' }).trim());
    process.kill(server, 'SIGKILL');
    const code = await Promise.race([
      exited(),
      new Promise((r) => setTimeout(() => r('still running'), 10_000)),
    ]);
    expect(code).toBe(1);
    expect(existsSync(dataDir)).toBe(false);
  });
});
