/**
 * A real HTTP server on 127.0.0.1 that answers from a script, for testing
 * the upstream client: each request takes the next scripted answer (the last
 * one repeats), and every request is recorded.
 *
 *   const up = await ScriptedUpstream.start();
 *   up.script({ status: 503 }, { status: 200, body: '{"ok":true}' });
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ScriptedAnswer {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Never answer (a hung upstream). */
  hang?: boolean;
  /** Send the body in chunks of this many bytes, without a content-length. */
  chunked?: number;
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export class ScriptedUpstream {
  readonly seen: SeenRequest[] = [];
  private answers: ScriptedAnswer[] = [{ status: 200, body: '{}' }];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<ScriptedUpstream> {
    const holder: { self?: ScriptedUpstream } = {};
    const server = createServer((req, res) => void holder.self?.answer(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const self = new ScriptedUpstream(server, `http://127.0.0.1:${port}`);
    holder.self = self;
    server.on('connection', (s) => {
      self.sockets.add(s);
      s.on('close', () => self.sockets.delete(s));
    });
    return self;
  }

  script(...answers: ScriptedAnswer[]): void {
    this.answers = answers;
    this.seen.length = 0;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    this.seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
    });
    const answer = this.answers.length > 1 ? this.answers.shift()! : this.answers[0];
    if (answer.hang) return;
    const body = answer.body ?? '';
    if (answer.chunked) {
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json', ...answer.headers });
      for (let i = 0; i < body.length; i += answer.chunked) res.write(body.slice(i, i + answer.chunked));
      res.end();
      return;
    }
    res.writeHead(answer.status ?? 200, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      ...answer.headers,
    });
    res.end(body);
  }
}
