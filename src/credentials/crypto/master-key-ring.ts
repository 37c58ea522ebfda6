import { FactoryProvider } from '@nestjs/common';
import { inspect } from 'node:util';
import { APP_CONFIG } from '../../config/config.module';
import { AppConfig, MasterKey } from '../../config/config.types';
import { CredentialsError } from './credential-errors';

export const MASTER_KEY_BYTES = 32;

/**
 * The configured master keys (KEKs). The first is `current` and wraps every new
 * data key; every key unwraps. Keys are copied on construction, and the ring
 * prints only its key ids (console.log, util.inspect, JSON.stringify), never bytes.
 */
export class MasterKeyRing {
  private readonly byId = new Map<string, MasterKey>();
  private readonly ordered: readonly MasterKey[];

  constructor(keys: readonly MasterKey[]) {
    // Configuration already validated these (load-config.ts); a programmer error here
    // must still never reach encryption, so check again without echoing any key bytes.
    if (!Array.isArray(keys) || keys.length === 0) {
      throw new Error('MasterKeyRing: at least one master key is required');
    }
    const copies: MasterKey[] = [];
    for (const [i, k] of keys.entries()) {
      if (typeof k?.id !== 'string' || k.id === '') throw new Error(`MasterKeyRing: key ${i + 1} has no id`);
      if (!Buffer.isBuffer(k.key) || k.key.length !== MASTER_KEY_BYTES) {
        throw new Error(`MasterKeyRing: key ${JSON.stringify(k.id)} must be ${MASTER_KEY_BYTES} bytes`);
      }
      if (this.byId.has(k.id)) throw new Error(`MasterKeyRing: key id ${JSON.stringify(k.id)} appears twice`);
      const copy: MasterKey = Object.freeze({ id: k.id, key: Buffer.from(k.key) });
      this.byId.set(k.id, copy);
      copies.push(copy);
    }
    this.ordered = Object.freeze(copies);
  }

  /** The key that wraps new data keys (the first configured). */
  get current(): MasterKey {
    return this.ordered[0];
  }

  /** Every key, current first. */
  get keys(): readonly MasterKey[] {
    return this.ordered;
  }

  get ids(): string[] {
    return this.ordered.map((k) => k.id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Throws master_key_unknown naming the id when the key is not configured. */
  get(id: string): MasterKey {
    const key = this.byId.get(id);
    if (!key) throw CredentialsError.masterKeyUnknown(id);
    return key;
  }

  toJSON(): { ids: string[] } {
    return { ids: this.ids };
  }

  [inspect.custom](): string {
    return `MasterKeyRing { ids: ${JSON.stringify(this.ids)} }`;
  }
}

/** Nest provider: the ring built once from `AppConfig.masterKeys`. */
export const masterKeyRingProvider: FactoryProvider<MasterKeyRing> = {
  provide: MasterKeyRing,
  useFactory: (config: AppConfig) => new MasterKeyRing(config.masterKeys),
  inject: [APP_CONFIG],
};
