/**
 * render.yaml against the code it deploys: the build works with the
 * environment Render gives it, and every variable it sets is one the server
 * reads, with a value it accepts.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config';

const blueprint = readFileSync(join(__dirname, '..', '..', 'render.yaml'), 'utf8');
const webService = blueprint.slice(blueprint.indexOf('- type: web'), blueprint.indexOf('- type: keyvalue'));

/** `- key: NAME` entries with their literal `value:`, or undefined when Render supplies it. */
function envVars(): Map<string, string | undefined> {
  const vars = new Map<string, string | undefined>();
  const entry = /- key: (\S+)\n(?:\s+#.*\n)*\s+(value|sync|fromDatabase|fromService|generateValue):\s*(.*)/g;
  for (const [, key, kind, rest] of webService.matchAll(entry))
    vars.set(key, kind === 'value' ? rest.trim().replace(/^'(.*)'$/, '$1') : undefined);
  return vars;
}

/** What Render puts in the variables the blueprint leaves to it (generated, linked or entered by hand). */
const SUPPLIED: Record<string, string> = {
  PUBLIC_BASE_URL: 'https://mcp.example.com',
  DATABASE_URL: 'postgres://sentia:pw@db.internal:5432/sentia',
  REDIS_URL: 'redis://redis.internal:6379',
  JWT_SECRET: 'g'.repeat(44),
  MASTER_ENCRYPTION_KEY: 'ab'.repeat(32),
};

describe('render.yaml', () => {
  it('installs the dev dependencies the build needs: NODE_ENV=production would make npm ci skip TypeScript', () => {
    expect(envVars().get('NODE_ENV')).toBe('production');
    const build = /buildCommand: (.*)/.exec(webService)?.[1] ?? '';
    expect(build).toMatch(/^npm ci --include=dev && npm run build\b/);
    expect(/startCommand: (.*)/.exec(webService)?.[1]).toBe('node dist/src/main.js');
  });

  it('sets only variables the server reads, with values it accepts', () => {
    const vars = envVars();
    expect([...vars.keys()]).toEqual(expect.arrayContaining(Object.keys(SUPPLIED)));
    const env: Record<string, string> = { DATA_DIR: mkdtempSync(join(tmpdir(), 'sentia-render-')) };
    for (const [key, value] of vars) {
      if (key === 'NODE_VERSION') continue; // Render's own
      env[key] = value ?? SUPPLIED[key];
      expect([key, env[key]]).toEqual([key, expect.any(String)]);
    }
    const config = loadConfig(env);
    expect(config.unknownSettings).toEqual([]);
    expect(config.env).toBe('production');
    expect(config.database.kind).toBe('postgres');
    expect(config.metricsPublic).toBe(false);
    // The internal connection string is on Render's private network, without TLS (render.yaml's comment).
    expect(config.database).toMatchObject({ kind: 'postgres', ssl: false });
  });

  it('keeps the key-value store from evicting keys: locks and counters must not vanish under memory pressure', () => {
    const keyValue = blueprint.slice(blueprint.indexOf('- type: keyvalue'), blueprint.indexOf('databases:'));
    expect(/^\s+maxmemoryPolicy: (\S+)$/m.exec(keyValue)?.[1]).toBe('noeviction');
  });
});
