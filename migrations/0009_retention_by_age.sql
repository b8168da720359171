-- Retention by age (`repo settings --keep-within D`): revisions dated less than this many seconds
-- ago are kept, besides the newest keep_revisions of each branch. NULL: no age rule.
ALTER TABLE repos ADD COLUMN keep_within_seconds INTEGER
  CHECK (keep_within_seconds IS NULL OR keep_within_seconds > 0);
