/**
 * Reads a whole run's capture (layout: test/support/capture.ts) into what the
 * sweep checks, plus the counts that show the capture is real.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CAPTURE_LAYOUT, MIN_SECRET_LENGTH } from '../support/capture';
import type { Haystack, RegisteredSecret } from './leak-detectors';

export interface Capture {
  root: string;
  /** Log files of in-process apps (apps/<id>/*.log*), one haystack per file. */
  appLogs: Haystack[];
  /** Whole outputs of spawned servers. */
  spawnedLogs: Haystack[];
  /** audit/<id>.ndjson: one audit row per line. */
  audit: Haystack[];
  /** Apps whose audit rows could not be read at close (names only). */
  auditDumpErrors: string[];
  /** Distinct registered values of at least MIN_SECRET_LENGTH characters. */
  secrets: RegisteredSecret[];
  /** Apps with a non-empty log. */
  appsWithLogs: number;
}

function files(dir: string, match: (name: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter(match)
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile());
}

function haystack(root: string, path: string): Haystack {
  const lines = readFileSync(path, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return { file: relative(root, path), lines };
}

function readSecrets(dir: string): RegisteredSecret[] {
  const byValue = new Map<string, RegisteredSecret>();
  for (const path of files(dir, (n) => n.endsWith('.ndjson'))) {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (!line) continue;
      const entry = JSON.parse(line) as RegisteredSecret;
      if (entry.value.length >= MIN_SECRET_LENGTH && !byValue.has(entry.value))
        byValue.set(entry.value, entry);
    }
  }
  return [...byValue.values()];
}

export function readCapture(root: string): Capture {
  const appsDir = join(root, CAPTURE_LAYOUT.apps);
  const appDirs = existsSync(appsDir) ? readdirSync(appsDir).map((name) => join(appsDir, name)) : [];
  const appLogs = appDirs.flatMap((dir) => files(dir, (n) => /\.log/.test(n)).map((p) => haystack(root, p)));
  const auditDir = join(root, CAPTURE_LAYOUT.audit);
  return {
    root,
    appLogs,
    spawnedLogs: files(join(root, CAPTURE_LAYOUT.spawned), (n) => n.endsWith('.log')).map((p) =>
      haystack(root, p),
    ),
    audit: files(auditDir, (n) => n.endsWith('.ndjson')).map((p) => haystack(root, p)),
    auditDumpErrors: files(auditDir, (n) => n.endsWith('.error')).map((p) => relative(root, p)),
    secrets: readSecrets(join(root, CAPTURE_LAYOUT.secrets)),
    appsWithLogs: new Set(appLogs.filter((h) => h.lines.length > 0).map((h) => h.file.split('/')[1])).size,
  };
}

/** How many parsed JSON lines have each value of `field` (lines that are not JSON objects are skipped). */
export function countField(haystacks: Haystack[], field: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { lines } of haystacks) {
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        const value = (JSON.parse(line) as Record<string, unknown>)[field];
        if (typeof value === 'string') counts.set(value, (counts.get(value) ?? 0) + 1);
      } catch {
        /* a line cut by a crash: still swept as text */
      }
    }
  }
  return counts;
}

export const lineCount = (haystacks: Haystack[]): number => haystacks.reduce((n, h) => n + h.lines.length, 0);
