import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { argsDigest } from '../../src/audit/audit-record';
import { AuditModule } from '../../src/audit/audit.module';
import { AuditWriter } from '../../src/audit/audit.writer';
import { ApiKey } from '../../src/auth/api-key.entity';
import { ApiKeyRepository } from '../../src/auth/api-key.repository';
import { ApiKeysModule } from '../../src/auth/api-keys.module';
import { ApiKeysService, SystemActor } from '../../src/auth/api-keys.service';
import { KeyUsageRecorder } from '../../src/auth/key-usage.recorder';
import type { Principal } from '../../src/auth/principal';
import { KnownKeysCache } from '../../src/auth/known-keys.cache';
import { RevocationNotifier, REVOCATIONS_CHANNEL } from '../../src/auth/revocation.notifier';
import { REVOCATION_OPTIONS, RevocationService } from '../../src/auth/revocation.service';
import { SharedKnownKeys } from '../../src/auth/shared-known-keys';
import { ConfigModule } from '../../src/config/config.module';
import { AppConfig } from '../../src/config/config.types';
import { loadConfig } from '../../src/config/load-config';
import { DatabaseModule } from '../../src/database/database.module';
import { MetricsService } from '../../src/metrics/metrics.service';
import { KeyValueStore } from '../../src/store/key-value-store';
import { MemoryStore } from '../../src/store/memory.store';
import { StoreModule } from '../../src/store/store.module';
import { Redis } from 'ioredis';
import { RedisStore, redisStoreClientOptions } from '../../src/store/redis.store';
import { TcpProxy } from '../support/tcp-proxy';
import {
  describeWithPostgres,
  describeWithRedis,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  uniqueName,
} from '../support/backends';

jest.setTimeout(20_000);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const actor = (organizationId: string): SystemActor => ({
  kind: 'system',
  tool: 'test',
  organizationId,
  userId: 'u1',
});

interface Backend {
  name: string;
  config: () => AppConfig;
  schema?: string;
  keyPrefix?: string;
  /** SQL that makes api_keys unreadable, and the SQL that restores it. */
  breakTable: string;
  restoreTable: string;
  /** SQL that makes every insert of an `api_key.*` audit row fail, and the SQL that lifts that. */
  refuseKeyAudit: string[];
  allowKeyAudit: string[];
  /** PostgreSQL: a deferred check that fails at COMMIT (after the audit insert) for a key named `fails at commit`. */
  failAtCommit?: string[];
  cleanup: () => Promise<void>;
}

async function boot(b: Backend): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      ConfigModule.forRoot(b.config()),
      DatabaseModule.forRoot({ schema: b.schema, retryAttempts: 1 }),
      StoreModule.forRoot({ keyPrefix: b.keyPrefix }),
      AuditModule.forRoot(),
      ApiKeysModule,
    ],
    providers: [
      RevocationService,
      KnownKeysCache,
      KeyUsageRecorder,
      MetricsService,
      { provide: REVOCATION_OPTIONS, useValue: { pollIntervalMs: 100, staleAfterMs: 400 } },
    ],
  }).compile();
  moduleRef.useLogger(false);
  await moduleRef.init();
  return moduleRef;
}

async function waitUntil(probe: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await probe()) return true;
    await sleep(25);
  }
  return false;
}

function behaves(backend: () => Backend) {
  let b: Backend;
  let app: TestingModule;
  let keys: ApiKeysService;
  let repo: ApiKeyRepository;

  beforeAll(async () => {
    b = backend();
    app = await boot(b);
    keys = app.get(ApiKeysService);
    repo = app.get(ApiKeyRepository);
  });

  afterAll(async () => {
    await app?.close();
    await b?.cleanup();
  });

  afterEach(() => jest.restoreAllMocks());

  it('lists one organisation in pages, newest first, with status and name filters', async () => {
    const made = [];
    for (const name of ['Alpha', 'beta_1', 'beta%2', 'gamma']) {
      made.push((await keys.create(actor('org-list'), { name, permissions: ['xero:read'] })).key);
      await sleep(3);
    }
    await keys.create(actor('org-other'), { name: 'Alpha', permissions: ['xero:read'] });
    const first = await keys.list(actor('org-list'), { limit: 3 });
    const second = await keys.list(actor('org-list'), { limit: 3, cursor: first.nextCursor! });
    expect([...first.items, ...second.items].map((k) => k.id)).toEqual(made.map((k) => k.id).reverse());
    expect(second.nextCursor).toBeNull();

    const names = async (q: object) =>
      (await keys.list(actor('org-list'), { limit: 100, ...q })).items.map((k) => k.name);
    expect(await names({ name: 'ALPHA' })).toEqual(['Alpha']);
    expect(await names({ name: 'beta_' })).toEqual(['beta_1']); // _ and % are literal
    expect(await names({ name: '%' })).toEqual(['beta%2']);
    await keys.revoke(actor('org-list'), made[0].id, 'r');
    expect(await names({ status: 'revoked' })).toEqual(['Alpha']);
    expect((await names({ status: 'active' })).sort()).toEqual(['beta%2', 'beta_1', 'gamma']);
  });

  it('scopes by organisation, revokes once, and rotates in one transaction', async () => {
    const before = Date.now();
    const { key } = await keys.create(actor('org-r'), { name: 'k', permissions: ['admin'], expiresIn: 3600 });
    // Whole seconds (a token's exp), never shorter than asked.
    const expiresAt = new Date(key.expiresAt!).getTime();
    expect(expiresAt % 1000).toBe(0);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 3600_000);
    expect(await repo.findInOrg('org-x', key.id)).toBeNull();
    expect(await repo.revoke('org-x', key.id, 'nope', new Date())).toBe(false);

    const rotated = await keys.rotate(actor('org-r'), key.id, { graceSeconds: 60 });
    const old = await repo.findInOrg('org-r', key.id);
    expect(old!.revokedAt!.getTime()).toBeGreaterThan(Date.now() + 50_000);
    expect(old!.revokedReason).toBe(`rotated to ${rotated.key.id}`);
    const successor = await repo.findInOrg('org-r', rotated.key.id);
    expect(successor).toMatchObject({ permissions: ['admin'], name: 'k', userId: 'u1' });
    // The lifetime carries over (an hour from the rotation).
    expect(Math.abs(successor!.expiresAt!.getTime() - (Date.now() + 3600_000))).toBeLessThan(5000);
    // Already rotating: refused, and no second successor is written.
    await expect(keys.rotate(actor('org-r'), key.id)).rejects.toMatchObject({
      code: 'not_rotatable',
      message: expect.stringMatching(/: it is already being rotated \(revoked at \d{4}-/),
    });
    expect((await keys.list(actor('org-r'), { limit: 100 })).items).toHaveLength(2);

    // Revoking now brings the scheduled revocation forward.
    await keys.revoke(actor('org-r'), key.id, 'now');
    expect((await repo.findInOrg('org-r', key.id))!.revokedAt!.getTime()).toBeLessThanOrEqual(Date.now());
    await expect(keys.revoke(actor('org-r'), key.id)).rejects.toMatchObject({ code: 'not_revocable' });
    await expect(keys.rotate(actor('org-r'), key.id)).rejects.toMatchObject({
      message: expect.stringMatching(/: it was revoked at /),
    });
    expect((await repo.listRevoked()).map((r) => r.id)).toEqual(expect.arrayContaining([key.id]));
  });

  it("a key made for another user stays in the actor's organisation, and is that user's", async () => {
    const { key, token } = await keys.create(actor('org-for'), {
      name: 'for someone',
      permissions: ['xero:read'],
      userId: 'someone-else',
    });
    expect(key).toMatchObject({ organizationId: 'org-for', userId: 'someone-else' });
    expect(await repo.findInOrg('org-for', key.id)).toMatchObject({ userId: 'someone-else' });
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as object;
    expect(claims).toMatchObject({ org: 'org-for', sub: 'someone-else', jti: key.id });
  });

  it('never postpones a revocation, and rotates a key once even when two rotations race', async () => {
    const { key } = await keys.create(actor('org-once'), { name: 'once', permissions: ['xero:read'] });
    const t = Date.now();
    expect(await repo.revoke('org-once', key.id, 'first', new Date(t))).toBe(true);
    // A second revocation at a later time finds it revoked already: the first time stands.
    expect(await repo.revoke('org-once', key.id, 'later', new Date(t + 60_000))).toBe(false);
    expect(await repo.findInOrg('org-once', key.id)).toMatchObject({
      revokedAt: new Date(t),
      revokedReason: 'first',
    });
    // An earlier one brings it forward.
    expect(await repo.revoke('org-once', key.id, 'earlier', new Date(t - 1000))).toBe(true);

    // Both read the key as active before either writes: only one may write a successor.
    const { key: raced } = await keys.create(actor('org-once'), {
      name: 'raced',
      permissions: ['xero:read'],
    });
    const outcomes = await Promise.allSettled([
      keys.rotate(actor('org-once'), raced.id),
      keys.rotate(actor('org-once'), raced.id),
    ]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(outcomes.find((o) => o.status === 'rejected')).toMatchObject({
      reason: { code: 'not_rotatable' },
    });
    const named = await keys.list(actor('org-once'), { limit: 100, name: 'raced' });
    expect(named.items).toHaveLength(2); // the key and one successor
  });

  it('this process learns a revocation or a rotation at once, before any reload from the database', async () => {
    // An instance that reloads only every 5 s (the default) and has no channel: only the in-process announcement reaches it.
    const store = new MemoryStore();
    const revocation = new RevocationService(repo, store, app.get(RevocationNotifier));
    await revocation.onApplicationBootstrap();
    try {
      const revoked = (await keys.create(actor('org-now'), { name: 'r', permissions: ['xero:read'] })).key;
      const rotated = (await keys.create(actor('org-now'), { name: 'o', permissions: ['xero:read'] })).key;
      expect([revocation.check(revoked.id), revocation.check(rotated.id)]).toEqual(['active', 'active']);
      await keys.revoke(actor('org-now'), revoked.id);
      await keys.rotate(actor('org-now'), rotated.id);
      expect([revocation.check(revoked.id), revocation.check(rotated.id)]).toEqual(['revoked', 'revoked']);
    } finally {
      await revocation.onModuleDestroy();
      await store.close();
    }
  });

  it('rotating a key that lived under a minute gives its successor a minute, not a key that expires at once', async () => {
    const t = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(t); // restored after each test
    const issuer: Principal = {
      keyId: 'key_brief',
      userId: 'u1',
      organizationId: 'org-brief',
      permissions: ['admin'],
      expiresAt: new Date(Math.floor(t / 1000) * 1000 + 10_000),
    };
    // Without expiresIn, the key expires with its issuer: in 10 s at most.
    const { key } = await keys.create(issuer, { name: 'brief', permissions: ['xero:read'] });
    clock.mockReturnValue(t + 1000);
    const rotated = await keys.rotate(actor('org-brief'), key.id);
    expect(new Date(rotated.key.expiresAt!).getTime()).toBeGreaterThanOrEqual(t + 1000 + 60_000);
  });

  it('lists a key in its grace period as active (it still works), and as revoked once revoked outright', async () => {
    const { key } = await keys.create(actor('org-listgrace'), { name: 'graced', permissions: ['xero:read'] });
    const rotated = await keys.rotate(actor('org-listgrace'), key.id, { graceSeconds: 3600 });
    const ids = async (status: 'active' | 'revoked') =>
      (await keys.list(actor('org-listgrace'), { limit: 100, status })).items.map((k) => k.id).sort();
    expect(await ids('active')).toEqual([key.id, rotated.key.id].sort());
    expect(await ids('revoked')).toEqual([]);
    await keys.revoke(actor('org-listgrace'), key.id, 'grace cut short');
    expect([await ids('active'), await ids('revoked')]).toEqual([[rotated.key.id], [key.id]]);
  });

  it('revoking a key in its grace period takes effect at once on this instance, not when the grace ends', async () => {
    const revocation = app.get(RevocationService);
    const { key } = await keys.create(actor('org-grace'), { name: 'g', permissions: ['xero:read'] });
    await keys.rotate(actor('org-grace'), key.id, { graceSeconds: 3600 });
    await revocation.refresh();
    expect(revocation.check(key.id)).toBe('active');
    await keys.revoke(actor('org-grace'), key.id, 'leaked during the grace period');
    await revocation.refresh(); // a reload from the database changes nothing either
    expect(revocation.check(key.id)).toBe('revoked');
  });

  it('an expiring key may issue a key that expires with it, not a second later', async () => {
    const t = Date.now();
    jest.spyOn(Date, 'now').mockReturnValue(t); // restored after each test
    const expiresAt = new Date(Math.floor(t / 1000) * 1000 + 3600_000); // whole seconds, as a token's exp
    const issuer: Principal = {
      keyId: 'key_issuer',
      userId: 'u1',
      organizationId: 'org-life',
      permissions: ['admin'],
      expiresAt,
    };
    const most = Math.floor((expiresAt.getTime() - t) / 1000);
    const refused = keys.create(issuer, { name: 'longer', permissions: ['xero:read'], expiresIn: most + 1 });
    await expect(refused).rejects.toMatchObject({
      code: 'lifetime_not_held',
      message: expect.stringContaining(`(expiresIn of at most ${most} seconds)`),
    });
    // What the refusal names as the most is granted.
    const { key } = await keys.create(issuer, {
      name: 'as long',
      permissions: ['xero:read'],
      expiresIn: most,
    });
    expect(key.expiresAt).toBe(expiresAt.toISOString());
  });

  it('keeps recorded key use through a failed write, and an older time never replaces a newer one', async () => {
    const ds = app.get(DataSource);
    const made = [];
    for (const name of ['a', 'b'])
      made.push((await keys.create(actor('org-use'), { name, permissions: ['xero:read'] })).key.id);
    const [a, b2] = made;
    const t = (s: number) => new Date(Date.UTC(2032, 0, 1, 0, 0, s));
    const recorder = new KeyUsageRecorder(repo);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    recorder.record(a, t(1));
    recorder.record(b2, t(1));
    await ds.query(b.breakTable);
    try {
      const failing = recorder.flush(); // takes both uses, and the write fails
      recorder.record(b2, t(2)); // b is used again meanwhile
      await failing;
    } finally {
      await ds.query(b.restoreTable);
    }
    await recorder.flush();
    const lastUsed = async (id: string) => (await repo.findInOrg('org-use', id))!.lastUsedAt!.toISOString();
    expect([await lastUsed(a), await lastUsed(b2)]).toEqual([t(1).toISOString(), t(2).toISOString()]);
  });

  it('touchLastUsed writes each key its own time in one batch and never moves a time backwards', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++)
      ids.push((await keys.create(actor('org-t'), { name: `t${i}`, permissions: ['xero:read'] })).key.id);
    const t = (s: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, s, 123));
    await repo.touchLastUsed(ids.map((id, i) => ({ id, at: t(10 + i) })));
    await repo.touchLastUsed([
      { id: ids[0], at: t(1) },
      { id: ids[1], at: t(30) },
    ]);
    const got = await Promise.all(ids.map((id) => repo.findInOrg('org-t', id)));
    expect(got.map((k) => k!.lastUsedAt!.toISOString())).toEqual(
      [t(10), t(30), t(12)].map((d) => d.toISOString()),
    );
  });

  it('revocations arrive over the store channel; malformed messages change nothing; scheduled ones take effect later', async () => {
    const revocation = app.get(RevocationService);
    const store = app.get(KeyValueStore);
    // The set is stale 400 ms after its last load here: on a busy machine a poll can come late.
    await revocation.refresh();
    expect(revocation.check('key_channel')).toBe('active');
    await store.publish(REVOCATIONS_CHANNEL, 'not json');
    await store.publish(REVOCATIONS_CHANNEL, JSON.stringify({ keyId: 'key_channel', revokedAt: 'never' }));
    await store.publish(
      REVOCATIONS_CHANNEL,
      JSON.stringify({ keyId: 'key_channel', revokedAt: new Date().toISOString() }),
    );
    expect(await waitUntil(() => revocation.check('key_channel') === 'revoked')).toBe(true);

    revocation.apply({ keyId: 'key_later', revokedAt: new Date(Date.now() + 300) });
    expect(revocation.check('key_later')).toBe('active');
    await sleep(350);
    await revocation.refresh();
    expect(revocation.check('key_later')).toBe('revoked');
  });

  it("known-key lookup: a record in the token's organisation is known; another organisation or no record is not", async () => {
    const cache = app.get(KnownKeysCache);
    const { key } = await keys.create(actor('org-k'), { name: 'k', permissions: ['xero:read'] });
    expect(await cache.lookup(key.id, 'org-k')).toBe('known');
    expect(await cache.lookup(key.id, 'org-other')).toBe('unknown');
    expect(await cache.lookup('key_missing', 'org-k')).toBe('unknown');
  });

  it("known-key lookup remembers 'no record' for 5 s only: an id whose record appears later is then known", async () => {
    const cache = new KnownKeysCache(repo, app.get(RevocationService), app.get(SharedKnownKeys));
    const id = `key_late${Date.now()}`;
    const t = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(t); // restored after each test
    expect(await cache.lookup(id, 'org-late')).toBe('unknown');
    await repo.create(
      Object.assign(new ApiKey(), {
        id,
        name: 'late',
        organizationId: 'org-late',
        userId: 'u1',
        permissions: ['xero:read'],
        createdBy: 'system:test',
        createdAt: new Date(t),
        expiresAt: null,
        lastUsedAt: null,
        revokedAt: null,
        revokedReason: null,
      }),
    );
    clock.mockReturnValue(t + 4_999);
    expect(await cache.lookup(id, 'org-late')).toBe('unknown'); // remembered: no query per request
    clock.mockReturnValue(t + 5_001);
    expect(await cache.lookup(id, 'org-late')).toBe('known');
  });

  it('with the default options the revoked set is trusted 15 s after its last load, not a moment longer (no Redis to vouch)', async () => {
    const store = new MemoryStore();
    const revocation = new RevocationService(repo, store, new RevocationNotifier(store));
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    await revocation.onApplicationBootstrap();
    try {
      const loadedAt = revocation.status().lastLoadedAt!.getTime();
      const clock = jest.spyOn(Date, 'now').mockReturnValue(loadedAt + 15_000);
      expect(revocation.check('key_any')).toBe('active');
      clock.mockReturnValue(loadedAt + 15_001);
      expect(revocation.check('key_any')).toBe('unknown');
    } finally {
      jest.restoreAllMocks();
      await revocation.onModuleDestroy();
      await store.close();
    }
  });

  it('with api_keys unreadable: fails closed once stale on the memory store (Redis keeps it fresh), and recovers', async () => {
    const revocation = app.get(RevocationService);
    const cache = app.get(KnownKeysCache);
    const ds = app.get(DataSource);
    const freshGauge = async () =>
      Number(/^auth_revocation_fresh (\d+)$/m.exec(await app.get(MetricsService).registry.metrics())?.[1]);
    const errors = jest.spyOn(Logger.prototype, 'error').mockClear();
    const logs = jest.spyOn(Logger.prototype, 'log').mockClear();
    const { key } = await keys.create(actor('org-f'), { name: 'k', permissions: ['xero:read'] });
    expect(await cache.lookup(key.id, 'org-f')).toBe('known');
    await ds.query(b.breakTable);
    try {
      // A key already known needs no database; an unseen one cannot be checked.
      expect(await cache.lookup(key.id, 'org-f')).toBe('known');
      expect(await cache.lookup('key_unseen', 'org-f')).toBe('unavailable');
      const store = app.get(KeyValueStore);
      if (store.kind === 'memory') {
        expect(await waitUntil(() => revocation.check(key.id) === 'unknown', 3000)).toBe(true);
        expect(revocation.status()).toMatchObject({ loaded: true, fresh: false });
        revocation.check(key.id);
        expect(await freshGauge()).toBe(0);
        // Said once, when it began, not per request.
        expect(errors.mock.calls.map(([m]) => m)).toEqual([
          expect.stringMatching(/^The revoked key set is stale: .*Authenticated requests get 503/),
        ]);
      } else {
        // Redis still answers, so its channel still delivers revocations: the set stays usable.
        await sleep(600);
        expect(revocation.check(key.id)).toBe('active');
      }
    } finally {
      await ds.query(b.restoreTable);
    }
    expect(await waitUntil(() => revocation.check(key.id) === 'active', 3000)).toBe(true);
    expect(await freshGauge()).toBe(1);
    const recovered = logs.mock.calls.filter(([m]) => String(m).includes('fresh again'));
    expect(recovered).toHaveLength(app.get(KeyValueStore).kind === 'memory' ? 1 : 0);
  });

  it('with api_keys unreadable: a key another instance created, rotated or read is recognised through Redis; on the memory store it is not', async () => {
    const ds = app.get(DataSource);
    const store = app.get(KeyValueStore);
    const created = await keys.create(actor('org-s'), { name: 'made here', permissions: ['xero:read'] });
    const { key: successor } = await keys.rotate(actor('org-s'), created.key.id, { graceSeconds: 60 });
    const readElsewhere = await keys.create(actor('org-s'), {
      name: 'read here',
      permissions: ['xero:read'],
    });
    await store.del(`auth:known:${readElsewhere.key.id}`);
    // One instance reads the record from the database...
    expect(await app.get(KnownKeysCache).lookup(readElsewhere.key.id, 'org-s')).toBe('known');
    // ...another one, that has seen none of these keys, finds the database gone.
    const fresh = new KnownKeysCache(repo, app.get(RevocationService), app.get(SharedKnownKeys));
    await ds.query(b.breakTable);
    try {
      const lookups = await Promise.all(
        [created.key.id, successor.id, readElsewhere.key.id].map((id) => fresh.lookup(id, 'org-s')),
      );
      const shared = store.kind === 'redis';
      expect(lookups).toEqual(Array(3).fill(shared ? 'known' : 'unavailable'));
      // The organisation still counts; an id nobody recorded cannot be checked.
      expect(await fresh.lookup(created.key.id, 'org-other')).toBe(shared ? 'unknown' : 'unavailable');
      // So it does on an instance whose first sight of the key is the shared record, with the wrong organisation.
      const unseen = new KnownKeysCache(repo, app.get(RevocationService), app.get(SharedKnownKeys));
      expect(await unseen.lookup(created.key.id, 'org-other')).toBe(shared ? 'unknown' : 'unavailable');
      expect(await fresh.lookup('key_nobody_saw', 'org-s')).toBe('unavailable');
    } finally {
      await ds.query(b.restoreTable);
    }
  });

  it('audits every key change (system actor, as the CLI) in the change transaction: one row each, never the token', async () => {
    const ds = app.get(DataSource);
    const writer = app.get(AuditWriter);
    const org = 'org-audited';
    const adminRows = async (): Promise<Array<Record<string, unknown>>> =>
      ds.query(
        `SELECT * FROM audit_logs WHERE kind = 'admin' AND organization_id = '${org}' ORDER BY occurred_at, id`,
      );

    const created = await keys.create(actor(org), { name: 'audited', permissions: ['xero:read'] });
    const other = await keys.create(actor(org), { name: 'to rotate', permissions: ['xero:read'] });
    await keys.revoke(actor(org), created.key.id, 'done');
    const rotated = await keys.rotate(actor(org), other.key.id, { graceSeconds: 30 });

    const rows = await adminRows();
    expect(rows.map((r) => r.action)).toEqual([
      'api_key.create',
      'api_key.create',
      'api_key.revoke',
      'api_key.rotate',
    ]);
    for (const r of rows) {
      // The command line acted, not the user the key is for (that is in the facts digested below).
      expect(r).toMatchObject({ outcome: 'success', user_id: null, key_id: 'system:test' });
      // Its own chain per transaction, not the group commit's: written through recordInTransaction.
      expect(r.writer_id).not.toBe(writer.writerId);
      expect(Number(r.seq)).toBe(1);
    }
    const revokedAt = (await repo.findInOrg(org, created.key.id))!.revokedAt!;
    const previous = (await repo.findInOrg(org, other.key.id))!;
    expect(rows.map((r) => r.args_digest)).toEqual([
      argsDigest({
        keyId: created.key.id,
        name: 'audited',
        userId: 'u1',
        permissions: ['xero:read'],
        expiresAt: null,
      }),
      argsDigest({
        keyId: other.key.id,
        name: 'to rotate',
        userId: 'u1',
        permissions: ['xero:read'],
        expiresAt: null,
      }),
      argsDigest({ keyId: created.key.id, reason: 'done', revokedAt }),
      argsDigest({
        keyId: other.key.id,
        successorId: rotated.key.id,
        revokedAt: previous.revokedAt,
        graceSeconds: 30,
      }),
    ]);
    const text = JSON.stringify(await ds.query('SELECT * FROM audit_logs'));
    for (const t of [created.token, other.token, rotated.token]) {
      expect(text).not.toContain(t);
      expect(text).not.toContain(t.split('.')[2]);
    }

    // With the audit insert refused, no change survives: each rolls back with its record.
    const victim = await keys.create(actor(org), { name: 'victim', permissions: ['xero:read'] });
    const before = (await keys.list(actor(org), { limit: 100 })).items;
    for (const sql of b.refuseKeyAudit) await ds.query(sql);
    try {
      await expect(keys.create(actor(org), { name: 'doomed', permissions: ['xero:read'] })).rejects.toThrow();
      await expect(keys.revoke(actor(org), victim.key.id)).rejects.toThrow();
      await expect(keys.rotate(actor(org), victim.key.id)).rejects.toThrow();
    } finally {
      for (const sql of b.allowKeyAudit) await ds.query(sql);
    }
    expect((await keys.list(actor(org), { limit: 100 })).items).toEqual(before);
    expect((await repo.findInOrg(org, victim.key.id))!.revokedAt).toBeNull();
    // Loaded just now: the set is stale 400 ms after its last load here, and a busy machine's poll can come late.
    await app.get(RevocationService).refresh();
    expect(app.get(RevocationService).check(victim.key.id)).toBe('active');
    expect((await adminRows()).map((r) => r.action)).toEqual([
      ...rows.map((r) => r.action),
      'api_key.create',
    ]);

    if (b.failAtCommit) {
      // The audit row is inserted, then COMMIT fails: it must go with the key (same transaction).
      for (const sql of b.failAtCommit) await ds.query(sql);
      await expect(
        keys.create(actor(org), { name: 'fails at commit', permissions: ['xero:read'] }),
      ).rejects.toThrow();
      expect((await keys.list(actor(org), { limit: 100, name: 'fails at commit' })).items).toEqual([]);
      expect(await adminRows()).toHaveLength(rows.length + 1);
    }
  });

  it('flushes recorded key use at shutdown', async () => {
    const { key } = await keys.create(actor('org-u'), { name: 'u', permissions: ['xero:read'] });
    const at = new Date(Date.UTC(2031, 5, 1, 12, 0, 0, 0));
    app.get(KeyUsageRecorder).record(key.id, at);
    await app.close();
    app = await boot(b);
    keys = app.get(ApiKeysService);
    repo = app.get(ApiKeyRepository);
    expect((await repo.findInOrg('org-u', key.id))!.lastUsedAt!.toISOString()).toBe(at.toISOString());
  });
}

describe('api keys on SQLite with the memory store', () => {
  behaves(() => {
    const dir = mkdtempSync(join(tmpdir(), 'sentia-auth-int-'));
    return {
      name: 'sqlite',
      config: () =>
        loadConfig({
          NODE_ENV: 'test',
          DATA_DIR: dir,
          JWT_SECRET: 'i'.repeat(40),
          MASTER_ENCRYPTION_KEY: 'ab'.repeat(32),
        }),
      breakTable: 'ALTER TABLE api_keys RENAME TO api_keys_off',
      restoreTable: 'ALTER TABLE api_keys_off RENAME TO api_keys',
      refuseKeyAudit: [
        `CREATE TRIGGER refuse_key_audit BEFORE INSERT ON audit_logs WHEN NEW.action LIKE 'api_key.%'
         BEGIN SELECT RAISE(ABORT, 'audit refused by the test'); END`,
      ],
      allowKeyAudit: ['DROP TRIGGER refuse_key_audit'],
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  });
});

async function dropSchema(schema: string): Promise<void> {
  const pg = new Client({ connectionString: TEST_DATABASE_URL });
  await pg.connect();
  try {
    await pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await pg.end();
  }
}

function pgBackend(withRedis: boolean): () => Backend {
  return () => {
    const schema = uniqueName('auth_int');
    const dir = mkdtempSync(join(tmpdir(), 'sentia-auth-int-'));
    return {
      name: withRedis ? 'postgres+redis' : 'postgres',
      schema,
      keyPrefix: withRedis ? `${schema}:` : undefined,
      config: () =>
        loadConfig({
          NODE_ENV: 'test',
          DATA_DIR: dir,
          DATABASE_URL: TEST_DATABASE_URL,
          ...(withRedis ? { REDIS_URL: TEST_REDIS_URL } : {}),
          JWT_SECRET: 'i'.repeat(40),
          MASTER_ENCRYPTION_KEY: 'ab'.repeat(32),
        }),
      breakTable: `ALTER TABLE "${schema}".api_keys RENAME TO api_keys_off`,
      restoreTable: `ALTER TABLE "${schema}".api_keys_off RENAME TO api_keys`,
      refuseKeyAudit: [
        `CREATE FUNCTION "${schema}".refuse_key_audit() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.action LIKE 'api_key.%' THEN RAISE EXCEPTION 'audit refused by the test'; END IF; RETURN NEW; END $$`,
        `CREATE TRIGGER refuse_key_audit BEFORE INSERT ON "${schema}".audit_logs
         FOR EACH ROW EXECUTE FUNCTION "${schema}".refuse_key_audit()`,
      ],
      // The function is replaced, not the trigger dropped: DROP TRIGGER on the partitioned table locks a
      // partition before the parent and could deadlock with an audit INSERT in flight.
      allowKeyAudit: [
        `CREATE OR REPLACE FUNCTION "${schema}".refuse_key_audit() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RETURN NEW; END $$`,
      ],
      failAtCommit: [
        `CREATE FUNCTION "${schema}".fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.name = 'fails at commit' THEN RAISE EXCEPTION 'commit refused by the test'; END IF; RETURN NULL; END $$`,
        `CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT ON "${schema}".api_keys
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "${schema}".fail_at_commit()`,
      ],
      cleanup: async () => {
        await dropSchema(schema);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

describeWithPostgres('api keys on PostgreSQL with the memory store', () => {
  behaves(pgBackend(false));
});

describeWithPostgres('api keys on PostgreSQL with Redis', () => {
  describeWithRedis('(redis)', () => {
    behaves(pgBackend(true));
  });
});

describeWithPostgres('the revoked set while the database does not answer', () => {
  describeWithRedis('with Redis answering', () => {
    let b: Backend;
    let app: TestingModule;
    beforeAll(async () => {
      b = pgBackend(true)();
      app = await boot(b);
    });
    afterAll(async () => {
      await app?.close();
      await b?.cleanup();
    });

    /** The revoked set of an instance of its own on `store`, loaded and polling, stale 400 ms after a load. */
    const revocationOn = async (store: KeyValueStore): Promise<RevocationService> => {
      const revocation = new RevocationService(
        app.get(ApiKeyRepository),
        store,
        new RevocationNotifier(store),
        {
          pollIntervalMs: 100,
          staleAfterMs: 400,
        },
      );
      await revocation.onApplicationBootstrap();
      return revocation;
    };

    it('fails closed once stale when its subscription to Redis broke after the last load: revocations may have been lost', async () => {
      const ds = app.get(DataSource);
      const { key } = await app
        .get(ApiKeysService)
        .create(actor('org-gap'), { name: 'k', permissions: ['xero:read'] });
      // An instance of its own whose Redis connections pass through a proxy that can drop them.
      const proxy = await TcpProxy.to(TEST_REDIS_URL);
      const store = await RedisStore.connect(proxy.urlFor(TEST_REDIS_URL), { keyPrefix: b.keyPrefix });
      const revocation = await revocationOn(store);
      try {
        await ds.query(b.breakTable);
        try {
          await sleep(600); // stale as far as the database goes; Redis vouches
          expect(revocation.check(key.id)).toBe('active');
          // The subscription drops and comes back: whatever was published meanwhile is lost.
          await proxy.cut();
          await proxy.restore();
          expect(
            await waitUntil(
              () =>
                store.ping().then(
                  () => true,
                  () => false,
                ),
              8000,
            ),
          ).toBe(true);
          expect(await waitUntil(() => store.deliveringSince(REVOCATIONS_CHANNEL) !== undefined, 8000)).toBe(
            true,
          );
          await sleep(300); // two more pings answered
          expect(revocation.check(key.id)).toBe('unknown');
          expect(revocation.status().fresh).toBe(false);
        } finally {
          await ds.query(b.restoreTable);
        }
        // The next load from the database vouches again.
        expect(await waitUntil(() => revocation.check(key.id) === 'active', 3000)).toBe(true);
      } finally {
        await revocation.onModuleDestroy();
        await store.close();
        await proxy.cut();
      }
    });

    it('fails closed once stale when its subscription silently stops delivering (no close), and recovers when it delivers again', async () => {
      const ds = app.get(DataSource);
      const { key } = await app
        .get(ApiKeysService)
        .create(actor('org-silent'), { name: 'k', permissions: ['xero:read'] });
      // Commands go straight to Redis; only the subscriber's connection passes the proxy.
      const proxy = await TcpProxy.to(TEST_REDIS_URL);
      const store = new RedisStore(
        {
          command: new Redis(TEST_REDIS_URL, redisStoreClientOptions('command')),
          subscriber: new Redis(proxy.urlFor(TEST_REDIS_URL), redisStoreClientOptions('subscriber')),
        },
        { keyPrefix: b.keyPrefix },
      );
      expect(await store.waitUntilReady()).toBe(true);
      const revocation = await revocationOn(store);
      try {
        await ds.query(b.breakTable);
        try {
          await sleep(600); // stale as far as the database goes; its heartbeats come back
          expect(revocation.check(key.id)).toBe('active');
          proxy.blackhole(); // the subscriber's connection stays open and delivers nothing
          await sleep(50);
          await store.ping(); // the command connection still answers
          expect(await waitUntil(() => revocation.check(key.id) === 'unknown', 3000)).toBe(true);
          proxy.heal();
          expect(await waitUntil(() => revocation.check(key.id) === 'active', 3000)).toBe(true);
        } finally {
          await ds.query(b.restoreTable);
        }
      } finally {
        await revocation.onModuleDestroy();
        await store.close();
        await proxy.cut();
      }
    });

    it('recognises a key another instance recorded after a second, when the database is slow to answer', async () => {
      const { key } = await app
        .get(ApiKeysService)
        .create(actor('org-slow'), { name: 'k', permissions: ['xero:read'] });
      const fresh = new KnownKeysCache(
        app.get(ApiKeyRepository),
        app.get(RevocationService),
        app.get(SharedKnownKeys),
      );
      const holder = new Client({ connectionString: TEST_DATABASE_URL });
      await holder.connect();
      try {
        // The lookup's query waits on this lock, as on a database that does not answer (up to its timeouts).
        await holder.query('BEGIN');
        await holder.query(`LOCK TABLE "${b.schema}".api_keys IN ACCESS EXCLUSIVE MODE`);
        const answer = await Promise.race([
          fresh.lookup(key.id, 'org-slow'),
          sleep(4_000).then(() => 'still waiting'),
        ]);
        expect(answer).toBe('known');
      } finally {
        await holder.query('ROLLBACK').catch(() => undefined);
        await holder.end();
      }
    });

    it('a slow load vouches for the moment it began, not the moment it ended (no Redis to vouch)', async () => {
      const store = new MemoryStore();
      const revocation = new RevocationService(
        app.get(ApiKeyRepository),
        store,
        new RevocationNotifier(store),
        {
          pollIntervalMs: 600_000,
        },
      );
      jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      await revocation.onApplicationBootstrap();
      const holder = new Client({ connectionString: TEST_DATABASE_URL });
      await holder.connect();
      try {
        const began = Date.now();
        const clock = jest.spyOn(Date, 'now').mockReturnValue(began);
        await holder.query('BEGIN');
        await holder.query(`LOCK TABLE "${b.schema}".api_keys IN ACCESS EXCLUSIVE MODE`);
        const load = revocation.refresh(); // reads the table as it is now: waits on the lock
        await sleep(200);
        clock.mockReturnValue(began + 10_000); // the database answers 10 s later
        await holder.query('ROLLBACK');
        await load;
        // Revocations made during those 10 s may be missing from what it read: 15 s from its start, not its end.
        clock.mockReturnValue(began + 15_000);
        expect(revocation.check('key_any')).toBe('active');
        clock.mockReturnValue(began + 15_001);
        expect(revocation.check('key_any')).toBe('unknown');
      } finally {
        jest.restoreAllMocks();
        await holder.query('ROLLBACK').catch(() => undefined);
        await holder.end();
        await revocation.onModuleDestroy();
        await store.close();
      }
    });

    it('stays usable: a reload stuck on the database does not stop checking that Redis answers', async () => {
      const revocation = app.get(RevocationService);
      const { key } = await app
        .get(ApiKeysService)
        .create(actor('org-h'), { name: 'k', permissions: ['xero:read'] });
      const holder = new Client({ connectionString: TEST_DATABASE_URL });
      await holder.connect();
      try {
        // Every reload from here on waits on this lock, as behind a database that does not answer.
        await holder.query('BEGIN');
        await holder.query(`LOCK TABLE "${b.schema}".api_keys IN ACCESS EXCLUSIVE MODE`);
        await sleep(1_200); // three times staleAfterMs (400)
        expect(revocation.check(key.id)).toBe('active');
        expect(revocation.status().fresh).toBe(true);
      } finally {
        await holder.query('ROLLBACK').catch(() => undefined);
        await holder.end();
      }
    });
  });
});
