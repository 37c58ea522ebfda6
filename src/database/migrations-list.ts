import { InitialSchema1795780800000 } from '../../migrations/1795780800000-InitialSchema';
import { AuditChainHeads1796428800000 } from '../../migrations/1796428800000-AuditChainHeads';
import { AuditChainAnchors1797033600000 } from '../../migrations/1797033600000-AuditChainAnchors';

/**
 * Every migration, oldest first, imported explicitly (no globs) so `tsc`,
 * `node dist/...` and jest all load the same classes. A new migration file in
 * `migrations/` must be added here.
 */
export const MIGRATIONS = [
  InitialSchema1795780800000,
  AuditChainHeads1796428800000,
  AuditChainAnchors1797033600000,
];
