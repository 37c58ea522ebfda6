import { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from './1795780800000-InitialSchema';

/**
 * `audit_chain_anchors`: where each hash chain resumes after `sentia-mcp
 * audit prune` removed its oldest rows. One row per chain that lost rows:
 * the position (seq) and hash of the last row removed, so `audit verify`
 * checks the first row kept against it (its prev_hash must be that hash), and
 * a chain pruned whole still matches its head in `audit_chain_heads`.
 * Anchors only move forward (a later prune of the same chain).
 */
export class AuditChainAnchors1797033600000 implements MigrationInterface {
  name = 'AuditChainAnchors1797033600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const { t, ts, now } = dialectOf(queryRunner);
    await queryRunner.query(`
      CREATE TABLE ${t('audit_chain_anchors')} (
        writer_id varchar(64) NOT NULL PRIMARY KEY,
        seq bigint NOT NULL,
        hash varchar(128) NOT NULL,
        pruned_before ${ts} NOT NULL,
        pruned_at ${ts} NOT NULL DEFAULT ${now}
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const { t } = dialectOf(queryRunner);
    await queryRunner.query(`DROP TABLE ${t('audit_chain_anchors')}`);
  }
}
