import { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from './1795780800000-InitialSchema';

/**
 * `audit_chain_heads`: the last position (seq) and hash of every audit hash
 * chain, moved in the statement that inserts the chain's rows, whichever
 * path inserts them (group commit, journal shipping, spool replay, an admin
 * action's transaction: all go through insertAuditRows), so `audit verify`
 * can tell that rows were deleted from the end of a chain, or a whole chain
 * (a one-row admin chain included): its head still names them. Heads only
 * move forward.
 *
 * - PostgreSQL: the batch INSERT itself upserts the heads (a data-modifying
 *   WITH). A statement-level trigger with a transition table did the same
 *   but copied every row once more (see src/audit/audit-sql.ts).
 * - SQLite: a row-level trigger.
 * Existing chains get their heads from the rows already stored.
 */
export class AuditChainHeads1796428800000 implements MigrationInterface {
  name = 'AuditChainHeads1796428800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const { pg, t, ts, now } = dialectOf(queryRunner);
    await queryRunner.query(`
      CREATE TABLE ${t('audit_chain_heads')} (
        writer_id varchar(64) NOT NULL PRIMARY KEY,
        seq bigint NOT NULL,
        hash varchar(128) NOT NULL,
        updated_at ${ts} NOT NULL DEFAULT ${now}
      )`);
    await queryRunner.query(
      `INSERT INTO ${t('audit_chain_heads')} (writer_id, seq, hash)
       SELECT a.writer_id, a.seq, a.hash FROM ${t('audit_logs')} a
        WHERE a.seq = (SELECT max(b.seq) FROM ${t('audit_logs')} b WHERE b.writer_id = a.writer_id)`,
    );
    // PostgreSQL: the batch INSERT moves the heads in the same statement (src/audit/audit-sql.ts).
    if (!pg) {
      await queryRunner.query(`
        CREATE TRIGGER audit_chain_heads_advance AFTER INSERT ON audit_logs
        BEGIN
          INSERT INTO audit_chain_heads (writer_id, seq, hash, updated_at)
          VALUES (NEW.writer_id, NEW.seq, NEW.hash, ${now})
          ON CONFLICT (writer_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,
            updated_at = excluded.updated_at
          WHERE excluded.seq > audit_chain_heads.seq;
        END`);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const { pg, t } = dialectOf(queryRunner);
    if (!pg) await queryRunner.query('DROP TRIGGER audit_chain_heads_advance');
    await queryRunner.query(`DROP TABLE ${t('audit_chain_heads')}`);
  }
}
