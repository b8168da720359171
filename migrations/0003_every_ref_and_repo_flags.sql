-- Every kind of ref the Hub shows: branches, tags, pull requests and conversions. `name` is how
-- a revision names the ref: a branch's or a tag's name as it is, the full "refs/pr/N" and
-- "refs/convert/NAME" for the others (names the Hub refuses for branches and tags), so that one
-- lookup by name resolves a revision of any kind.
CREATE TABLE refs_of_every_kind (
  repo_id   INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
  kind      TEXT    NOT NULL CHECK (kind IN ('branch', 'tag', 'pr', 'convert')),
  name      TEXT    NOT NULL,
  commit_id TEXT    NOT NULL,
  PRIMARY KEY (repo_id, kind, name)
) WITHOUT ROWID;
INSERT INTO refs_of_every_kind (repo_id, kind, name, commit_id)
  SELECT repo_id, kind, name, commit_id FROM refs;
DROP TABLE refs;
ALTER TABLE refs_of_every_kind RENAME TO refs;

-- The upstream's repo flags beyond those of 0001, and the details the Hub computes per revision
-- (`config`: the trimmed config.json; `safetensors`: parameter counts), as JSON text.
ALTER TABLE repos ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE commits ADD COLUMN config TEXT;
ALTER TABLE commits ADD COLUMN safetensors TEXT;
