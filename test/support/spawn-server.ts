/**
 * Runs the built server (`node dist/src/main.js`, what `npm start` runs) as a
 * child process, for e2e tests that need a real process: signals, crashes,
 * restarts. Only the variables given reach it (plus PATH).
 *
 *   const port = await freePort();
 *   const server = spawnServer({ DATA_DIR: dir, PORT: String(port) });
 *   await waitForOk(`http://127.0.0.1:${port}/health`, 30_000);
 *   ...
 *   await server.stop(); // SIGTERM, then waits for the exit code
 *
 * Under a whole-run capture (test/support/capture.ts) the process's whole
 * output goes to the capture when it ends, and its secrets (given in `env` or
 * generated into DATA_DIR/secrets.json) to the secrets registry.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  CAPTURE_LAYOUT,
  captureDir,
  captureId,
  registerEnvSecrets,
  registerSecretsFile,
  writeCaptureFile,
} from './capture';

export const SERVER_MAIN = join(__dirname, '..', '..', 'dist', 'src', 'main.js');

export interface SpawnedServer {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (null when ended by a signal). */
  exited: Promise<number | null>;
  /** SIGTERM, then waits up to `ms` for the exit (SIGKILL after that); resolves with the exit code. */
  stop(ms?: number): Promise<number | null>;
}

/** A TCP port free on 127.0.0.1 at the time of asking. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function spawnServer(env: Record<string, string>): SpawnedServer {
  if (!existsSync(SERVER_MAIN)) {
    throw new Error(`${SERVER_MAIN} is missing: run "npm run build" (npm test does it first)`);
  }
  let out = '';
  const child = spawn(process.execPath, [SERVER_MAIN], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  if (captureDir()) captureSpawned(child, env, () => out);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (ms = 30_000): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  return { child, output: () => out, exited, stop };
}

/**
 * Registers the server's secrets and, once its output streams are closed,
 * writes all it printed to `<capture>/spawned/<id>.log`. secrets.json is read
 * at 'exit', before `exited` resolves, so before a test can remove DATA_DIR.
 */
function captureSpawned(child: ChildProcess, env: Record<string, string>, output: () => string): void {
  const id = captureId('spawned');
  registerEnvSecrets(env, `spawnServer ${id} env`);
  const secretsFile = env.DATA_DIR ? join(env.DATA_DIR, 'secrets.json') : undefined;
  child.once('exit', () => {
    if (secretsFile && existsSync(secretsFile))
      registerSecretsFile(readFileSync(secretsFile, 'utf8'), `spawnServer ${id}`);
  });
  child.once('close', () => writeCaptureFile(CAPTURE_LAYOUT.spawned, `${id}.log`, output()));
}

/** Polls `url` until it answers 2xx; throws after `ms` (or at once if `alive()` turns false). */
export async function waitForOk(url: string, ms: number, alive: () => boolean = () => true): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      /* not up yet */
    }
    if (!alive()) throw new Error(`the server exited before ${url} answered`);
    if (Date.now() > end) throw new Error(`${url} did not answer 2xx within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
