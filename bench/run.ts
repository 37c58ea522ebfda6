/**
 * `npm run bench`: runs every compiled bench/*.bench.js in its own process, one
 * after another, and prints their figures. Benchmarks measure; tests never
 * assert on speed.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const only = process.argv.slice(2);
const files = readdirSync(__dirname)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
let failed = 0;
for (const file of files) {
  // eslint-disable-next-line no-console
  console.log(`\n=== ${file.replace('.bench.js', '')} ===`);
  const run = spawnSync(process.execPath, [join(__dirname, file)], { stdio: 'inherit', env: process.env });
  if (run.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
