/**
 * Probes PostgreSQL and Redis once per run and tells the test workers through
 * the environment (SENTIA_TEST_PG / SENTIA_TEST_REDIS = 1 or 0).
 * Under CI=true a missing service fails the run; elsewhere it is skipped loudly.
 */
import { Socket } from 'node:net';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from './service-urls';

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('error', () => done(false));
    s.connect(Number(u.port || defaultPort), u.hostname, () => done(true));
  });
}

export default async function globalSetup(): Promise<void> {
  const services: [string, string, string, number][] = [
    ['PostgreSQL', 'SENTIA_TEST_PG', TEST_DATABASE_URL, 5432],
    ['Redis', 'SENTIA_TEST_REDIS', TEST_REDIS_URL, 6379],
  ];
  for (const [name, flag, url, port] of services) {
    const ok = await reachable(url, port);
    process.env[flag] = ok ? '1' : '0';
    if (ok) continue;
    const msg = `${name} is not reachable at ${new URL(url).host}`;
    if (process.env.CI === 'true') throw new Error(`${msg}: under CI=true the ${name} tests must run`);
    console.warn(`\n!!! SKIPPING ${name} TESTS: ${msg}. Start it (see .ci/run) to run them. !!!\n`);
  }
}
