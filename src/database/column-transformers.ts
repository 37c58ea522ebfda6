import { ValueTransformer } from 'typeorm';

/**
 * Binary values live in `text` columns as base64 on both SQLite and
 * PostgreSQL, so one entity definition fits both databases:
 * `@Column({ type: 'text', transformer: base64Buffer }) ciphertext: Buffer`.
 */
export const base64Buffer: ValueTransformer = {
  to: (value: Buffer | null | undefined) => (value == null ? value : Buffer.from(value).toString('base64')),
  from: (value: string | null | undefined) => (value == null ? value : Buffer.from(value, 'base64')),
};
