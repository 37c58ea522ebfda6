import { AddressInfo, connect, createServer, Server, Socket } from 'node:net';

const DEFAULT_PORTS: Record<string, number> = { 'redis:': 6379, 'postgres:': 5432, 'postgresql:': 5432 };

/**
 * A TCP proxy to a backend we can cut and restore, to take Redis or
 * PostgreSQL away mid-test without touching the shared server: `cut()`
 * refuses new connections and drops the open ones; `restore()` listens on
 * the same port again. `blackhole()` keeps every connection open and holds
 * what either side sends: a path that loses packets rather than refusing
 * them. `heal()` delivers what was held, in order, and forwards again, as
 * TCP's retransmissions would once the path is back; `heal({ forgetOpen:
 * true })` is a path back only for new connections (a NAT entry or a failover
 * lost the old ones): what was held is gone and the old connections stay silent.
 */
export class TcpProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;
  private holding = false;
  /** Chunks held while black-holed, with the socket each was bound for. */
  private held: { to: Socket; data: Buffer }[] = [];
  private readonly silenced = new WeakSet<Socket>();

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  static async to(url: string): Promise<TcpProxy> {
    const u = new URL(url);
    const proxy = new TcpProxy(u.hostname, Number(u.port || DEFAULT_PORTS[u.protocol]));
    await proxy.listen(0);
    return proxy;
  }

  /** The URL to give clients, with the target URL's scheme and credentials. */
  urlFor(targetUrl: string): string {
    const u = new URL(targetUrl);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
  }

  blackhole(): void {
    this.holding = true;
  }

  heal({ forgetOpen = false }: { forgetOpen?: boolean } = {}): void {
    this.holding = false;
    if (forgetOpen) for (const s of this.sockets) this.silenced.add(s);
    for (const { to, data } of this.held.splice(0)) if (!to.destroyed) relayTo(to, data, this.silenced);
  }

  restore(): Promise<void> {
    return this.listen(this.port);
  }

  private listen(port: number): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      const relay = (to: Socket) => (data: Buffer) => {
        if (this.holding) this.held.push({ to, data });
        else relayTo(to, data, this.silenced);
      };
      client.on('data', relay(upstream));
      upstream.on('data', relay(client));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        this.port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }
}

function relayTo(to: Socket, data: Buffer, silenced: WeakSet<Socket>): void {
  if (!silenced.has(to)) to.write(data);
}
