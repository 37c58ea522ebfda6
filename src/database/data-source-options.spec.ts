import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFor } from '../../test/support/test-config';
import { buildDataSourceOptions, DatabaseMissingError } from './data-source-options';

const PG_URL = 'postgres://u@db.internal:5432/app';

describe('buildDataSourceOptions', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'sentia-dso-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const pg = (env: Record<string, string> = {}, schema?: string) =>
    buildDataSourceOptions(configFor(root, { DATABASE_URL: PG_URL, ...env }), { schema });

  it('verifies the server certificate when DATABASE_SSL is on, and asks for no TLS when it is off', () => {
    expect(pg({ DATABASE_SSL: 'true' })).toMatchObject({ ssl: { rejectUnauthorized: true } });
    expect(pg({ DATABASE_SSL: 'false' })).toMatchObject({ ssl: false });
  });

  it('accepts a lower-case identifier as the schema and refuses anything it would have to quote', () => {
    expect(pg({}, 'a_1')).toMatchObject({ schema: 'a_1', extra: { options: '-c search_path=a_1' } });
    expect(pg({}, `_${'x'.repeat(62)}`)).toMatchObject({ schema: `_${'x'.repeat(62)}` });
    for (const bad of ['Upper', '1st', 'a-b', 'a"b', 'a b', 'a;drop', `_${'x'.repeat(63)}`, '']) {
      expect(() => pg({}, bad)).toThrow('Database schema override must be a lower-case identifier');
    }
  });

  it("without a schema, leaves the tables to the connection's search_path", () => {
    const options = pg();
    expect(options).not.toHaveProperty('schema');
    expect(options.extra).not.toHaveProperty('options');
  });

  it('leaves a timeout of 0 out of the connection settings, so the server or pg keeps its own', () => {
    expect(
      pg({ DATABASE_STATEMENT_TIMEOUT_MS: '0', DATABASE_QUERY_TIMEOUT_MS: '0' }).extra,
    ).not.toHaveProperty('statement_timeout');
    expect(
      pg({ DATABASE_STATEMENT_TIMEOUT_MS: '0', DATABASE_QUERY_TIMEOUT_MS: '0' }).extra,
    ).not.toHaveProperty('query_timeout');
    expect(
      pg({ DATABASE_STATEMENT_TIMEOUT_MS: '200', DATABASE_QUERY_TIMEOUT_MS: '700' }).extra,
    ).toMatchObject({
      statement_timeout: 200,
      query_timeout: 700,
    });
  });

  it('with existingOnly, refuses a SQLite file that is not there, and makes neither it nor its directory', () => {
    const config = configFor(join(root, 'absent'));
    const path = config.database.kind === 'sqlite' ? config.database.path : '';
    expect(() => buildDataSourceOptions(config, { existingOnly: true })).toThrow(DatabaseMissingError);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(join(root, 'absent'))).toBe(false);
    // Without it, the file is made, in a directory only its owner can enter.
    expect(buildDataSourceOptions(config)).toMatchObject({ type: 'better-sqlite3', database: path });
    expect(existsSync(path)).toBe(true);
    expect(statSync(join(root, 'absent')).mode & 0o777).toBe(0o700);
    expect(buildDataSourceOptions(config, { existingOnly: true })).toMatchObject({ database: path });
  });
});
