/**
 * The MCP conformance suite (`@modelcontextprotocol/conformance server
 * --suite all`) against the real application with the fixtures module
 * loaded, plus a real-client check that the fixtures are there (an unknown
 * tool could "pass" some scenarios by accident) and that they are absent
 * when MCP_CONFORMANCE_FIXTURES is off.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Test } from '@nestjs/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ConformanceFixturesModule } from '../../src/conformance/conformance-fixtures.module';
import { ConfigModule } from '../../src/config/config.module';
import type { AppConfig } from '../../src/config/config.types';
import { loadConfig } from '../../src/config/load-config';
import { startApp, StartedApp } from '../support/start-app';
import { authHeaders, TestKey } from '../support/test-keys';

const ROOT = resolve(__dirname, '..', '..');
const CLI = join(ROOT, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
const PRELOAD = join(ROOT, 'test', 'support', 'conformance-preload.mjs');
/** The suite sends a few hundred requests within seconds; the default per-IP limit (100/min) is for the internet. */
const SUITE_ENV = { MCP_CONFORMANCE_FIXTURES: 'true', RATE_LIMIT_IP_MAX: '100000', RATE_LIMIT_MAX: '100000' };

const FIXTURE_TOOLS = [
  'test_simple_text',
  'test_image_content',
  'test_audio_content',
  'test_embedded_resource',
  'test_multiple_content_types',
  'test_tool_with_logging',
  'test_tool_with_progress',
  'test_error_handling',
  'test_sampling',
  'test_elicitation',
  'test_elicitation_sep1034_defaults',
  'test_elicitation_sep1330_enums',
  'test_reconnection',
  'json_schema_2020_12_tool',
];
const FIXTURE_RESOURCES = ['test://static-text', 'test://static-binary', 'test://watched-resource'];
const FIXTURE_PROMPTS = [
  'test_simple_prompt',
  'test_prompt_with_arguments',
  'test_prompt_with_embedded_resource',
  'test_prompt_with_image',
];
/**
 * The only warnings allowed: server-sse-polling POSTs with MCP-Protocol-Version
 * 2025-03-26, and the SDK sends SSE priming events (id + retry) only to
 * 2025-11-25 clients, as that revision requires. The SEP-1699 test below checks
 * the behaviour with 2025-11-25.
 */
const EXPECTED_WARNINGS = [
  'server-sse-polling/server-sse-priming-event',
  'server-sse-polling/server-sse-retry-field',
];

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}
interface Check {
  id: string;
  status: string; // SUCCESS | FAILURE | WARNING | INFO
  errorMessage?: string;
}

/** Runs the conformance CLI without blocking this process's event loop (the server under test lives here). */
function runCli(args: string[], cwd: string, timeoutMs: number): Promise<CliRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', PRELOAD, CLI, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/**
 * Runs `conformance server --suite all` against `mcpUrl` and reads every
 * scenario's checks.json. The CLI cannot send credentials, so `mcpUrl` is a
 * bearer-adding proxy in front of the app.
 */
async function runConformanceSuite(mcpUrl: string) {
  const workDir = mkdtempSync(join(tmpdir(), 'sentia-conformance-'));
  try {
    const list = await runCli(['list', '--server'], workDir, 30_000);
    const known = [...list.stdout.matchAll(/^\s+- (\S+)/gm)].map((m) => m[1]);
    const resultsDir = join(workDir, 'results');
    const run = await runCli(
      ['server', '--url', mcpUrl, '--suite', 'all', '-o', resultsDir],
      workDir,
      200_000,
    );
    const scenarios = new Map<string, Check[]>();
    for (const dir of readdirSync(resultsDir)) {
      // Named server-<scenario>-<ISO timestamp with - for : and .>.
      const scenario = dir.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/, '');
      scenarios.set(
        scenario,
        JSON.parse(readFileSync(join(resultsDir, dir, 'checks.json'), 'utf8')) as Check[],
      );
    }
    const total = /^Total: (\d+) passed, (\d+) failed/m.exec(run.stdout);
    return { run, known, scenarios, totals: total ? { passed: +total[1], failed: +total[2] } : undefined };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** A loopback proxy to `target` that adds `Authorization` and passes everything else (Host, Origin, SSE) through. */
async function bearerProxy(target: string, headers: Record<string, string>) {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const out = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, ...headers },
        agent: false,
      },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    res.on('close', () => out.destroy()); // the client left: end the upstream stream too
    req.pipe(out);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

async function connect(mcpUrl: string, key: TestKey): Promise<Client> {
  const client = new Client({ name: 'sentia-e2e', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: authHeaders(key) } }),
  );
  return client;
}

describe('MCP conformance (fixtures on)', () => {
  let started: StartedApp;
  let key: TestKey;
  let mcpUrl: string;

  beforeAll(async () => {
    started = await startApp(SUITE_ENV);
    key = await TestKey.create(started, { permissions: ['ai:invoke'] });
    mcpUrl = `${started.url}/mcp`;
  });
  afterAll(async () => {
    await started?.close();
  });

  it('serves every fixture the suite calls, through the real registry', async () => {
    const client = await connect(mcpUrl, key);
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name);
      expect(tools).toEqual(expect.arrayContaining([...FIXTURE_TOOLS, 'server_info']));
      const resources = (await client.listResources()).resources.map((r) => r.uri);
      expect(resources).toEqual(expect.arrayContaining(FIXTURE_RESOURCES));
      const templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
      expect(templates).toContain('test://template/{id}/data');
      const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
      expect(prompts).toEqual(expect.arrayContaining(FIXTURE_PROMPTS));

      // The two scenarios an unknown tool could pass by accident, answered by the fixtures themselves.
      expect(await client.callTool({ name: 'test_simple_text', arguments: {} })).toEqual({
        content: [{ type: 'text', text: 'This is a simple text response for testing.' }],
      });
      expect(await client.callTool({ name: 'test_error_handling', arguments: {} })).toEqual({
        content: [{ type: 'text', text: 'This tool intentionally returns an error for testing' }],
        isError: true,
      });
    } finally {
      await client.close();
    }
  });

  it('passes `conformance server --suite all` with 0 failures, every server scenario run', async () => {
    const proxy = await bearerProxy(started.url, authHeaders(key));
    const { run, known, scenarios, totals } = await runConformanceSuite(`${proxy.url}/mcp`).finally(
      proxy.close,
    );
    const all = [...scenarios].flatMap(([scenario, checks]) => checks.map((c) => ({ scenario, ...c })));
    const failures = all.filter((c) => c.status === 'FAILURE');
    if (failures.length > 0 || run.code !== 0) {
      const detail = failures.map((c) => `${c.scenario}/${c.id}: ${c.errorMessage}`).join('\n');
      throw new Error(`${detail}\nexit ${run.code}\n${run.stdout.slice(-6000)}\n${run.stderr.slice(-2000)}`);
    }

    expect(known.length).toBeGreaterThanOrEqual(30);
    expect([...scenarios.keys()].sort()).toEqual([...known].sort());
    expect([...scenarios].filter(([, checks]) => checks.length === 0).map(([name]) => name)).toEqual([]);
    expect(totals).toEqual({ passed: all.filter((c) => c.status === 'SUCCESS').length, failed: 0 });
    const warnings = all.filter((c) => c.status === 'WARNING').map((c) => `${c.scenario}/${c.id}`);
    expect(warnings.filter((w) => !EXPECTED_WARNINGS.includes(w))).toEqual([]);
  }, 240_000);

  /**
   * A 2025-11-25 session opened by hand (initialize, notifications/initialized) with `capabilities`, and
   * a POST bound to `signal` that carries the session's headers when given them.
   */
  async function rawSession(signal: AbortSignal, capabilities: object, name: string) {
    const base = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...authHeaders(key),
    };
    const post = (body: object, extra: Record<string, string> = {}) =>
      fetch(mcpUrl, { method: 'POST', headers: { ...base, ...extra }, body: JSON.stringify(body), signal });
    const init = await post({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities, clientInfo: { name, version: '1' } },
    });
    expect(init.status).toBe(200);
    await init.text();
    const session = {
      'mcp-session-id': init.headers.get('mcp-session-id')!,
      'mcp-protocol-version': '2025-11-25',
    };
    await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session)).text();
    return { post, session };
  }

  it('closes the POST stream mid-call and replays the result on GET with Last-Event-ID (SEP-1699)', async () => {
    const signal = AbortSignal.timeout(10_000); // a stream that never ends must not outlive the test
    const { post, session } = await rawSession(signal, {}, 'sep-1699');

    const call = await post(
      { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'test_reconnection' } },
      session,
    );
    const stream = await call.text(); // ends when the tool closes it
    expect(stream).toMatch(/^id: \S+\nretry: \d+\ndata: \n/); // the priming event
    expect(stream).not.toContain('"id":7'); // no result on the closed stream
    const lastEventId = [...stream.matchAll(/^id: (\S+)$/gm)].pop()![1];

    const resumed = await fetch(mcpUrl, {
      headers: { accept: 'text/event-stream', ...authHeaders(key), ...session, 'last-event-id': lastEventId },
      signal,
    });
    expect(resumed.status).toBe(200);
    const reader = resumed.body!.pipeThrough(new TextDecoderStream()).getReader();
    let replayed = '';
    while (!replayed.includes('"id":7')) {
      const { value, done } = await reader.read();
      if (done) break;
      replayed += value;
    }
    await reader.cancel();
    expect(replayed).toContain('Reconnection test completed successfully');
    await fetch(mcpUrl, { method: 'DELETE', headers: { ...authHeaders(key), ...session } });
  });

  it("sends sampling and elicitation requests on the tool call's own stream, not on a GET stream the client may not have open yet", async () => {
    const signal = AbortSignal.timeout(10_000); // a request sent elsewhere would leave this stream open
    const { post, session } = await rawSession(signal, { sampling: {}, elicitation: {} }, 'no-get-stream');

    // This client never opens the GET stream: everything the call needs must come on its POST stream.
    const calls = [
      {
        name: 'test_sampling',
        arguments: { prompt: 'p' },
        method: 'sampling/createMessage',
        answer: { role: 'assistant', content: { type: 'text', text: 'sampled' }, model: 'm' },
        expected: 'LLM response: sampled',
      },
      {
        name: 'test_elicitation_sep1034_defaults',
        arguments: {},
        method: 'elicitation/create',
        answer: { action: 'accept', content: { name: 'Jane' } },
        expected: 'Elicitation completed: action=accept, content={"name":"Jane"}',
      },
    ];
    for (const [i, c] of calls.entries()) {
      const id = 10 + i;
      const call = await post(
        { jsonrpc: '2.0', id, method: 'tools/call', params: { name: c.name, arguments: c.arguments } },
        session,
      );
      expect(call.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const reader = call.body!.pipeThrough(new TextDecoderStream()).getReader();
      const messages: { id?: unknown; method?: string; result?: { content?: { text?: string }[] } }[] = [];
      let buffer = '';
      let answered = false;
      while (!messages.some((m) => m.id === id && m.result)) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        const complete = buffer.lastIndexOf('\n') + 1; // parse whole lines only
        for (const [, data] of buffer.slice(0, complete).matchAll(/^data: (.+)$/gm))
          messages.push(JSON.parse(data));
        buffer = buffer.slice(complete);
        const request = messages.find((m) => m.method === c.method);
        if (request && !answered) {
          answered = true;
          const reply = await post({ jsonrpc: '2.0', id: request.id, result: c.answer }, session);
          expect(reply.status).toBe(202);
        }
      }
      await reader.cancel();
      expect(messages.map((m) => m.method).filter(Boolean)).toContain(c.method);
      expect(messages.find((m) => m.id === id)?.result?.content?.[0]?.text).toBe(c.expected);
    }
    await fetch(mcpUrl, { method: 'DELETE', headers: { ...authHeaders(key), ...session } });
  });
});

describe('MCP conformance fixtures (flag off)', () => {
  it('registers no fixture tool, resource or prompt', async () => {
    const started = await startApp({});
    try {
      const client = await connect(
        `${started.url}/mcp`,
        await TestKey.create(started, { permissions: ['admin'] }),
      );
      const tools = (await client.listTools()).tools.map((t) => t.name);
      expect(tools).toContain('server_info');
      for (const name of FIXTURE_TOOLS) expect(tools).not.toContain(name);
      const resources = (await client.listResources()).resources.map((r) => r.uri);
      expect(resources.filter((uri) => uri.startsWith('test://'))).toEqual([]);
      const templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
      expect(templates.filter((uri) => uri.startsWith('test://'))).toEqual([]);
      const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
      for (const name of FIXTURE_PROMPTS) expect(prompts).not.toContain(name);
      await expect(client.callTool({ name: 'test_simple_text', arguments: {} })).rejects.toThrow(
        /Unknown tool/,
      );
      await client.close();
    } finally {
      await started.close();
    }
  });

  it('refuses to load without the flag, and in production', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sentia-fixtures-'));
    const compile = (config: AppConfig) =>
      Test.createTestingModule({
        imports: [ConfigModule.forRoot(config), ConformanceFixturesModule],
      }).compile();
    try {
      const off = loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir });
      await expect(compile(off)).rejects.toThrow(/test-only/);
      // loadConfig already refuses the flag in production; the module holds the line on its own too.
      const on = loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir, MCP_CONFORMANCE_FIXTURES: 'true' });
      await expect(compile({ ...on, env: 'production' })).rejects.toThrow(/test-only/);
      await (await compile(on)).close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
