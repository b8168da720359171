-- Retention set on a repo (`hubmirror repo settings --keep-revisions N`): each branch keeps its
-- newest N revisions; older commits no ref points at are released (deleted with their entries),
-- and their content becomes garbage unless another commit uses it. NULL keeps every revision.
ALTER TABLE repos ADD COLUMN keep_revisions INTEGER CHECK (keep_revisions IS NULL OR keep_revisions > 0);

-- When this instance recorded each commit: retention keeps the newest revisions the mirror has,
-- whatever dates the upstream gave them (0 for commits recorded before this column).
ALTER TABLE commits ADD COLUMN recorded_at INTEGER NOT NULL DEFAULT 0;
