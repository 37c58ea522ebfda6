import type { AppConfig } from '../config/config.types';

const LOCAL_HOSTNAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** Hostname of a Host header value (`example.com:8080` → `example.com`, `[::1]:3000` → `[::1]`). */
function hostnameOf(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon > 0 ? h.slice(0, colon) : h;
}

export type OriginVerdict = { ok: true } | { ok: false; reason: string };

/**
 * DNS-rebinding protection for /mcp (MCP transport security rules): the Host
 * must name this server, and a browser's Origin, when present, must be one we
 * trust. Defaults: the public base URL's host plus loopback names; the public
 * base URL's origin, plus loopback origins (a local tool's page) outside
 * staging and production, where a page on a user's own machine has no
 * business calling the shared server with their key. ALLOWED_HOSTS and
 * ALLOWED_ORIGINS replace them.
 */
export class OriginPolicy {
  private readonly hosts: Set<string>;
  private readonly origins: Set<string>;
  private readonly explicitOrigins: boolean;

  /** Loopback origins (a page served from this machine) are trusted by default only off staging and production. */
  private readonly loopbackOrigins: boolean;

  constructor(config: Pick<AppConfig, 'publicBaseUrl' | 'mcp' | 'env'>) {
    this.loopbackOrigins = config.env !== 'production' && config.env !== 'staging';
    const base = new URL(config.publicBaseUrl);
    this.hosts = new Set(
      config.mcp.allowedHosts.length > 0
        ? config.mcp.allowedHosts.map(hostnameOf)
        : [hostnameOf(base.host), ...LOCAL_HOSTNAMES],
    );
    this.explicitOrigins = config.mcp.allowedOrigins.length > 0;
    this.origins = new Set(
      (this.explicitOrigins ? config.mcp.allowedOrigins : [base.origin]).map((o) =>
        o.toLowerCase().replace(/\/+$/, ''),
      ),
    );
  }

  check(host: string | undefined, origin: string | undefined): OriginVerdict {
    if (!host || !this.hosts.has(hostnameOf(host))) {
      return { ok: false, reason: 'Host header is not an allowed host for this server' };
    }
    if (origin === undefined) return { ok: true };
    const o = origin.toLowerCase();
    if (this.origins.has(o)) return { ok: true };
    if (!this.explicitOrigins && this.loopbackOrigins) {
      try {
        if (LOCAL_HOSTNAMES.has(new URL(o).hostname)) return { ok: true };
      } catch {
        /* fall through: malformed Origin */
      }
    }
    return { ok: false, reason: 'Origin is not allowed for this server' };
  }
}
