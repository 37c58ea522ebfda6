/**
 * Which real backing services the integration and e2e tiers can use.
 *
 * PostgreSQL: TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
 * Redis:      TEST_REDIS_URL    (default redis://127.0.0.1:6379).
 *
 * test/support/global-setup.ts probes them once per run: under CI=true a
 * missing service fails the run, elsewhere its tests are skipped with a loud
 * message. Use `describeWithPostgres` / `describeWithRedis` for such tests.
 */
import { Client as PgClient } from 'pg';
import { TEST_DATABASE_URL } from './service-urls';

export { TEST_DATABASE_URL, TEST_REDIS_URL } from './service-urls';

export const hasPostgres = (): boolean => process.env.SENTIA_TEST_PG !== '0';
export const hasRedis = (): boolean => process.env.SENTIA_TEST_REDIS !== '0';

/** `describe` when PostgreSQL is reachable, otherwise a loudly skipped block. */
export const describeWithPostgres: jest.Describe = hasPostgres() ? describe : describe.skip;
/** `describe` when Redis is reachable, otherwise a loudly skipped block. */
export const describeWithRedis: jest.Describe = hasRedis() ? describe : describe.skip;
/** `describe` when both are reachable, otherwise a loudly skipped block. */
export const describeWithPostgresAndRedis: jest.Describe =
  hasPostgres() && hasRedis() ? describe : describe.skip;

/** A short unique name for per-test-file isolation (schemas, key prefixes). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`.toLowerCase();
}

/** Drops a schema a spec made for itself on the test PostgreSQL (its afterAll). */
export async function dropSchema(schema: string): Promise<void> {
  const pg = new PgClient({ connectionString: TEST_DATABASE_URL });
  await pg.connect();
  try {
    await pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await pg.end();
  }
}
