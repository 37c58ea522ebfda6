import { Injectable, Logger, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { createHmac, hkdfSync } from 'node:crypto';
import { findProvider } from '../../common/find-provider';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.types';
import { isCredentialService } from '../../credentials/credential-schemas';
import { gcmDecrypt, gcmEncrypt, GCM_IV_BYTES, GCM_TAG_BYTES } from '../../credentials/crypto/aes-gcm';
import { MasterKeyRing } from '../../credentials/crypto/master-key-ring';
import type { McpCallContext } from '../../mcp/mcp-context';
import type { RegisteredTool } from '../../mcp/mcp-registry.service';
import { ToolCacheResult, ToolPipeline, ToolResultCache } from '../../mcp/tool-pipeline.service';
import { MetricsService } from '../../metrics/metrics.service';
import { KeyValueStore } from '../../store/key-value-store';
import { ConnectorCredentials } from './connector-credentials.service';

const NAME_KEY_INFO = 'sentia.tool-cache.name.v1';
const VALUE_KEY_INFO = 'sentia.tool-cache.value.v1';
export const TOOL_CACHE_PREFIX = 'tool-cache:';

/**
 * The connectors' answer cache (ToolResultCache): a read-only tool's answer
 * is kept in the shared store for MCP_TOOL_CACHE_TTL seconds, so the same
 * question asked again (a model re-reading a list, several instances behind a
 * balancer) costs no upstream call and none of the upstream's quota.
 *
 * What an answer is reused for, and only that:
 * - the same organisation (its id is in the key; nothing else is shared);
 * - the same tool and the same validated arguments (canonical JSON);
 * - the same stored credentials of the tool's service: the key is an HMAC
 *   over the decrypted credentials and the arguments, so writing new
 *   credentials (another Xero tenant, a rotated key) makes every older answer
 *   unreachable at once, on every instance, with no invalidation message.
 *
 * Business data leaves the process only encrypted: each value is sealed with
 * AES-256-GCM under a key derived (HKDF) from the current master key, with
 * the store key as associated data, so a value moved to another key (another
 * organisation) does not open. Store keys carry no argument or credential in
 * the clear. After a master key rotation older entries simply stop opening.
 *
 * Errors are never cached; an answer larger than MCP_TOOL_CACHE_MAX_ENTRY_BYTES
 * is not kept; a store that fails (Redis down) makes the call a miss, never a
 * failure.
 *
 * On one instance, identical calls share one upstream request: a call that
 * misses joins one under way (until its answer is written); those that joined
 * a call that failed join the first of them to ask again (and should that one
 * fail too, each asks for itself); and a `fresh` call's
 * answer is not overwritten by that of a load that began before it.
 */
@Injectable()
export class ConnectorResultCache implements ToolResultCache, OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ConnectorResultCache.name);
  private readonly ttlMs: number;
  private readonly maxEntryBytes: number;
  private readonly nameKey: Buffer;
  private readonly valueKey: Buffer;
  /** Upstream calls under way on this instance, by cache key, for identical calls to join. */
  private readonly loading = new Map<string, Loading>();

  constructor(
    @InjectConfig() config: AppConfig,
    keyRing: MasterKeyRing,
    private readonly store: KeyValueStore,
    private readonly credentials: ConnectorCredentials,
    private readonly moduleRef: ModuleRef,
    @Optional() private readonly metrics?: MetricsService,
  ) {
    this.ttlMs = config.mcp.toolCacheTtlSeconds * 1000;
    this.maxEntryBytes = config.mcp.toolCacheMaxEntryBytes;
    const master = keyRing.current.key;
    this.nameKey = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), NAME_KEY_INFO, 32));
    this.valueKey = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), VALUE_KEY_INFO, 32));
  }

  onModuleInit(): void {
    if (this.ttlMs <= 0) return;
    findProvider(this.moduleRef, ToolPipeline)?.useResultCache(this);
  }

  onModuleDestroy(): void {
    this.nameKey.fill(0);
    this.valueKey.fill(0);
  }

  async through(
    tool: RegisteredTool,
    ctx: McpCallContext,
    args: Record<string, unknown>,
    fresh: boolean,
    load: () => Promise<unknown>,
  ): Promise<{ value: unknown; cache: ToolCacheResult; json?: string }> {
    const service = tool.options.cache?.credentials;
    if (!isCredentialService(service)) return { value: await load(), cache: 'uncached' };
    // Fails the call as the tool would (no credentials stored, none readable, no organisation). The
    // call's one read: the tool's own get of this call is handed these, so its answer is of the key's.
    const stored = await this.credentials.get(ctx, service);
    const key = this.keyFor(ctx.principal!.organizationId, tool.options.name, stored, args);
    if (!fresh) {
      const cached = await this.read(key);
      if (cached !== undefined) {
        this.metrics?.cacheRequest('hit', 'tool_result');
        return { ...cached, cache: 'hit' };
      }
      // The same question already on its way upstream from this instance: its answer serves this call too.
      // At most two joined (the first, and one asking again after it failed): were every failure joined
      // anew, identical calls to a failing upstream would each wait for the one before it to fail.
      for (let pending = this.loading.get(key), joins = 0; pending && joins < 2; joins++) {
        const joined = await pending.answer.then(
          (value) => ({ value }),
          () => undefined, // its caller's failure (a cancel, say) is not this one's: ask for itself
        );
        if (joined) {
          this.metrics?.cacheRequest('joined', 'tool_result');
          return { value: joined.value, cache: 'joined' };
        }
        // Unless another call that joined the failed one already asks again: join that one instead (once).
        const next = this.loading.get(key);
        pending = next === pending ? undefined : next;
      }
      this.metrics?.cacheRequest('miss', 'tool_result');
    } else {
      this.metrics?.cacheRequest('fresh', 'tool_result');
    }
    // From the last look at `loading` to here nothing waits, so two calls never both start a load they could share.
    const own: Loading = { answer: load(), superseded: false };
    // A fresh call's answer is newer than that of any load already under way: that one must not overwrite it.
    const older = this.loading.get(key);
    if (older) older.superseded = true;
    this.loading.set(key, own);
    try {
      const value = await own.answer;
      // Joinable until written, so a call arriving meanwhile neither misses in the store nor asks again.
      const json = own.superseded ? undefined : await this.write(key, value);
      return { value, cache: fresh ? 'fresh' : 'miss', json };
    } finally {
      if (this.loading.get(key) === own) this.loading.delete(key);
    }
  }

  private keyFor(organizationId: string, tool: string, credentials: unknown, args: unknown): string {
    const digest = createHmac('sha256', this.nameKey)
      .update(JSON.stringify(sortedKeys({ credentials, args })))
      .digest('base64url');
    return `${TOOL_CACHE_PREFIX}${organizationId}:${tool}:${digest}`;
  }

  /** The entry's value, and its JSON text as stored (the pipeline's text content: not made twice). */
  private async read(key: string): Promise<{ value: unknown; json: string } | undefined> {
    let sealed: string | null;
    try {
      sealed = await this.store.get(key);
    } catch (e) {
      this.logger.warn({ message: 'tool result cache unreadable; calling the upstream', error: e });
      return undefined;
    }
    if (sealed === null) return undefined;
    const plaintext = this.open(key, sealed);
    if (plaintext === null) {
      this.logger.warn({
        message:
          'a tool result cache entry did not open (tampered, or sealed under another master key); ignored',
      });
      return undefined;
    }
    const json = plaintext.toString('utf8');
    return { value: JSON.parse(json) as unknown, json };
  }

  /** Keeps the answer when it may be kept; its JSON text, when made, is returned for the pipeline to reuse. */
  private async write(key: string, value: unknown): Promise<string | undefined> {
    if (!cacheable(value)) return undefined;
    const json = JSON.stringify(value);
    const plaintext = Buffer.from(json, 'utf8');
    if (plaintext.length > this.maxEntryBytes) return json;
    const box = gcmEncrypt(this.valueKey, plaintext, Buffer.from(key, 'utf8'));
    const sealed = Buffer.concat([box.iv, box.authTag, box.ciphertext]).toString('base64');
    try {
      await this.store.set(key, sealed, { ttlMs: this.ttlMs });
    } catch (e) {
      this.logger.warn({ message: 'tool result cache not written; the answer stands', error: e });
    }
    return json;
  }

  private open(key: string, sealed: string): Buffer | null {
    const bytes = Buffer.from(sealed, 'base64');
    if (bytes.length < GCM_IV_BYTES + GCM_TAG_BYTES) return null;
    return gcmDecrypt(
      this.valueKey,
      {
        iv: bytes.subarray(0, GCM_IV_BYTES),
        authTag: bytes.subarray(GCM_IV_BYTES, GCM_IV_BYTES + GCM_TAG_BYTES),
        ciphertext: bytes.subarray(GCM_IV_BYTES + GCM_TAG_BYTES),
      },
      Buffer.from(key, 'utf8'),
    );
  }
}

/** An upstream call under way, for identical calls to join. */
interface Loading {
  answer: Promise<unknown>;
  /** A fresh call for the same key started after it: its answer is older, so it is not stored. */
  superseded: boolean;
}

/**
 * The same value with every object's keys in one order, so equal arguments
 * name one entry whatever order they came in. JSON.stringify then escapes a
 * lone surrogate rather than replace it, so different strings never name the
 * same entry (the audit's canonical JSON makes them well formed, which would).
 */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.keys(value)
    .sort()
    .map((k) => [k, sortedKeys((value as Record<string, unknown>)[k])]);
  return Object.fromEntries(entries);
}

/** Plain JSON answers only: not a tool-reported error, nothing JSON would drop or change. */
function cacheable(value: unknown): boolean {
  if (value === undefined || value === null || typeof value !== 'object') return typeof value === 'string';
  return (value as { isError?: unknown }).isError !== true;
}
