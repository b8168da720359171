-- Pull-through (`[pull_through]` in the server's config) records a revision from its metadata and
-- fetches each file's content the first time a client asks for it. Until then the content is known
-- but not stored: an LFS file's by the SHA-256 its pointer declares, in a blob row in state
-- 'absent'; a git-stored file's only by its git blob id, its entry's sha256 staying NULL. Absent
-- content is neither corrupt nor missing: verify skips it, and a fill or a sync stores it.
CREATE TABLE blobs_of_every_state (
  sha256   TEXT    PRIMARY KEY,
  size     INTEGER NOT NULL,
  git_sha1 TEXT    NOT NULL,
  state    TEXT    NOT NULL DEFAULT 'ok'
           CHECK (state IN ('ok', 'corrupt', 'missing', 'absent'))
) WITHOUT ROWID;
INSERT INTO blobs_of_every_state (sha256, size, git_sha1, state)
  SELECT sha256, size, git_sha1, state FROM blobs;
DROP TABLE blobs;
ALTER TABLE blobs_of_every_state RENAME TO blobs;
CREATE INDEX blobs_by_git_sha1 ON blobs (git_sha1, size);

-- Who keeps a revision current: 'sync' (a mirror rule, `hubmirror sync`) or 'pull-through'
-- (client requests, which check the upstream again once the record is older than max_age).
ALTER TABLE sync_state ADD COLUMN source TEXT NOT NULL DEFAULT 'sync'
  CHECK (source IN ('sync', 'pull-through'));
