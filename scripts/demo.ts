/**
 * `npm run demo`: the server on its embedded default with its five upstreams
 * (Xero, Shopify, Unleashed, Anthropic, OpenAI) simulated on this machine, the
 * organisation `demo`'s credentials for each stored, and an admin key printed,
 * so every tool can be tried without an account anywhere. The simulators are
 * the ones the tests use (test/simulators), with their seeded data. Nothing is
 * kept: the data directory is a temporary one, removed on Ctrl-C.
 *
 * Env: PORT (default 3000), LOG_LEVEL for the server (default warn).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AnthropicSimulator } from '../test/simulators/anthropic.simulator';
import { OpenAiSimulator } from '../test/simulators/openai.simulator';
import { startShopifySimulator } from '../test/simulators/shopify.simulator';
import { startUnleashedSimulator } from '../test/simulators/unleashed.simulator';
import { makeTenant } from '../test/simulators/xero-simulator-data';
import { XeroSimulator } from '../test/simulators/xero.simulator';

const ROOT = join(__dirname, '..', '..');
const PORT = Number(process.env.PORT ?? 3000);
const BASE = `http://127.0.0.1:${PORT}`;
const ORG = 'demo';

/** What the simulators accept, and so what is stored for the organisation. */
const CREDENTIALS = {
  xero: { grantType: 'client_credentials', clientId: 'DEMOCLIENTID0001', clientSecret: 'demo-xero-secret' },
  shopify: { shop: 'demo-store.myshopify.com', accessToken: 'shpat_demo_token_0001', apiVersion: '2025-10' },
  unleashed: { apiId: '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b', apiKey: 'demo-unleashed-key' },
  anthropic: { apiKey: 'sk-ant-demo-0001' },
  openai: { apiKey: 'sk-demo-openai-0001' },
} as const;
const XERO_TENANT = '8e3a1c5d-2b4f-4a6e-9c7d-1f2e3d4c5b6a';

async function main(): Promise<void> {
  if (!Number.isInteger(PORT) || PORT < 1 || PORT > 65535)
    throw new Error(`PORT must be 1-65535 (got ${PORT})`);
  const dataDir = mkdtempSync(join(tmpdir(), 'sentia-demo-'));

  const xero = await XeroSimulator.start();
  xero.addTenant(
    makeTenant(XERO_TENANT, 'Demo Company (NZ)', { invoices: 12, contacts: 5, bankTransactions: 8 }),
  );
  xero.addCustomConnection(CREDENTIALS.xero.clientId, CREDENTIALS.xero.clientSecret, [XERO_TENANT]);
  const shopify = await startShopifySimulator({ accessToken: CREDENTIALS.shopify.accessToken });
  const unleashed = await startUnleashedSimulator(CREDENTIALS.unleashed);
  const anthropic = new AnthropicSimulator({ apiKeys: [CREDENTIALS.anthropic.apiKey] });
  const openai = new OpenAiSimulator({ apiKeys: [CREDENTIALS.openai.apiKey] });
  await anthropic.start();
  await openai.start();

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(PORT),
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    // Every client of a demo is this machine, one address: the per-IP limit is the per-key one here,
    // so exploring with the Inspector's UI does not run into 100 requests a minute.
    RATE_LIMIT_IP_MAX: process.env.RATE_LIMIT_IP_MAX ?? '1000',
    XERO_API_BASE_URL: xero.url,
    XERO_IDENTITY_BASE_URL: xero.url,
    SHOPIFY_BASE_URL: shopify.url,
    UNLEASHED_BASE_URL: unleashed.url,
    ANTHROPIC_BASE_URL: anthropic.url,
    OPENAI_BASE_URL: openai.url,
  };
  const server = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'main.js')], { env, stdio: 'inherit' });
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    // Not once it has exited: by a signal (killed, out of memory) its exitCode stays null, and no 'exit' follows.
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
    }
    await Promise.all([xero.close(), shopify.close(), unleashed.close(), anthropic.stop(), openai.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));
  server.once('exit', (code) => {
    if (!stopping) {
      console.error(`sentia-mcp demo: the server exited (code ${code}); stopping`);
      void stop(1);
    }
  });

  try {
    await waitForHealth();
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        join(ROOT, 'bin', 'sentia-mcp.js'),
        'keys',
        'create',
        '--org',
        ORG,
        '--name',
        'demo admin',
        '--permissions',
        'admin',
      ],
      { env },
    );
    const token = stdout.trim();
    for (const [service, body] of Object.entries(CREDENTIALS)) {
      const res = await fetch(`${BASE}/credentials/${service}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (res.status !== 201)
        throw new Error(`storing the ${service} credentials answered ${res.status}: ${await res.text()}`);
    }
    process.stdout.write(instructions(token));
  } catch (e) {
    console.error(`sentia-mcp demo: ${(e as Error).message}`);
    await stop(1);
  }
}

async function waitForHealth(): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${BASE}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the server did not answer ${BASE}/health within 30 s`);
}

function instructions(token: string): string {
  const auth = '"Authorization: Bearer $DEMO_TOKEN"';
  const inspector = `npx -y @modelcontextprotocol/inspector@0.17.1 --cli ${BASE}/mcp --transport http --header ${auth}`;
  return `
Sentia MCP demo: ${BASE}/mcp, with Xero, Shopify, Unleashed, Anthropic and OpenAI simulated on this
machine and their credentials stored for organisation "${ORG}". Nothing here reaches the internet.

An admin key (every permission; shown once). In another terminal:
export DEMO_TOKEN=${token}

Then try:
  ${inspector} --method tools/list
  ${inspector} --method tools/call --tool-name xero_list_invoices --tool-arg tenantId=${XERO_TENANT}
  ${inspector} --method tools/call --tool-name unleashed_stock_on_hand
  ${inspector} --method resources/read --uri sentia://connectors
  curl -H ${auth} ${BASE}/admin/connectors
  curl -H ${auth} "${BASE}/admin/audit?limit=5"

Ctrl-C stops the server and the simulators and removes the demo's data.
`;
}

main().catch((e: unknown) => {
  console.error(`sentia-mcp demo: ${(e as Error)?.message ?? e}`);
  process.exit(1);
});
