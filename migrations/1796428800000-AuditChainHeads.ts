import { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from './1795780800000-InitialSchema';

/**
 * `audit_chain_heads`: the last position (seq) and hash of every audit hash
 * chain, kept by the database itself. A trigger on `audit_logs` advances a
 * chain's head in the statement that inserts its rows, whichever code path
 * inserts them (group commit, journal shipping, spool replay, an admin
 * action's transaction), so `audit verify` can tell that rows were deleted
 * from the end of a chain, or a whole chain (a one-row admin chain
 * included): its head still names them. Heads only move forward.
 *
 * - PostgreSQL: one statement-level trigger with a transition table (one
 *   upsert per batch, not per row), on the partitioned parent.
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
    if (pg) {
      await queryRunner.query(`
        CREATE FUNCTION ${t('audit_chain_heads_advance')}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO ${t('audit_chain_heads')} AS h (writer_id, seq, hash)
          SELECT DISTINCT ON (writer_id) writer_id, seq, hash FROM new_rows ORDER BY writer_id, seq DESC
          ON CONFLICT (writer_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, updated_at = now()
          WHERE h.seq < excluded.seq;
          RETURN NULL;
        END $$`);
      await queryRunner.query(`
        CREATE TRIGGER audit_chain_heads_advance AFTER INSERT ON ${t('audit_logs')}
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION ${t('audit_chain_heads_advance')}()`);
    } else {
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
    await queryRunner.query(
      pg
        ? `DROP TRIGGER audit_chain_heads_advance ON ${t('audit_logs')}`
        : 'DROP TRIGGER audit_chain_heads_advance',
    );
    if (pg) await queryRunner.query(`DROP FUNCTION ${t('audit_chain_heads_advance')}()`);
    await queryRunner.query(`DROP TABLE ${t('audit_chain_heads')}`);
  }
}
