-- Repositories mirrored or imported, models and datasets alike. Ids keep the case they were
-- published with; lookups go through name_lower, as the Hub matches ids case-insensitively.
-- card_data, pipeline_tag, library_name and repo_tags describe the default branch's head (what
-- listings filter on); each commit keeps its own in commits.
CREATE TABLE repos (
  id             INTEGER PRIMARY KEY,
  type           TEXT    NOT NULL CHECK (type IN ('model', 'dataset')),
  name           TEXT    NOT NULL,
  name_lower     TEXT    NOT NULL,
  author         TEXT    NOT NULL,
  object_id      TEXT    NOT NULL,
  default_branch TEXT    NOT NULL DEFAULT 'main',
  created_at     INTEGER NOT NULL,
  last_modified  INTEGER NOT NULL,
  card_data      TEXT,
  pipeline_tag   TEXT,
  library_name   TEXT,
  downloads      INTEGER NOT NULL DEFAULT 0,
  likes          INTEGER NOT NULL DEFAULT 0,
  private        INTEGER NOT NULL DEFAULT 0,
  gated          TEXT    NOT NULL DEFAULT 'false',
  UNIQUE (type, name_lower)
);

CREATE TABLE repo_tags (
  repo_id  INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  tag      TEXT    NOT NULL,
  PRIMARY KEY (repo_id, tag)
);
CREATE INDEX repo_tags_by_tag ON repo_tags (tag, repo_id);

-- Content known to the store, addressed by SHA-256; git_sha1 is the blob id of the content
-- itself (for LFS files the git oid in a tree is that of the pointer, kept in entries).
CREATE TABLE blobs (
  sha256   TEXT    PRIMARY KEY,
  size     INTEGER NOT NULL,
  git_sha1 TEXT    NOT NULL,
  state    TEXT    NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'corrupt', 'missing'))
) WITHOUT ROWID;
-- Sync knows a non-LFS file only by its git blob id; this finds content already stored.
CREATE INDEX blobs_by_git_sha1 ON blobs (git_sha1, size);

CREATE TABLE commits (
  repo_id   INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
  id        TEXT    NOT NULL,
  parent_id TEXT,
  tree_id   TEXT    NOT NULL,
  title     TEXT    NOT NULL,
  message   TEXT    NOT NULL,
  author    TEXT    NOT NULL,
  date      INTEGER NOT NULL,
  -- The model card of this revision: front matter as JSON, derived tags as a JSON array.
  card_data    TEXT,
  tags         TEXT NOT NULL DEFAULT '[]',
  pipeline_tag TEXT NOT NULL DEFAULT '',
  library_name TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (repo_id, id)
) WITHOUT ROWID;

-- Every entry of a commit's tree, files and directories, with the commit that last changed it.
CREATE TABLE entries (
  repo_id        INTEGER NOT NULL,
  commit_id      TEXT    NOT NULL,
  path           TEXT    NOT NULL,
  type           TEXT    NOT NULL CHECK (type IN ('file', 'directory')),
  size           INTEGER NOT NULL,
  git_oid        TEXT    NOT NULL,
  sha256         TEXT    REFERENCES blobs (sha256),
  lfs            INTEGER NOT NULL DEFAULT 0,
  pointer_size   INTEGER NOT NULL DEFAULT 0,
  last_commit_id TEXT    NOT NULL,
  PRIMARY KEY (repo_id, commit_id, path),
  FOREIGN KEY (repo_id, commit_id) REFERENCES commits (repo_id, id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE refs (
  repo_id   INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
  kind      TEXT    NOT NULL CHECK (kind IN ('branch', 'tag')),
  name      TEXT    NOT NULL,
  commit_id TEXT    NOT NULL,
  PRIMARY KEY (repo_id, kind, name)
) WITHOUT ROWID;

-- Lineage: child and parent are model ids; a parent need not be a mirrored repo.
CREATE TABLE lineage_edges (
  child        TEXT    NOT NULL,
  child_lower  TEXT    NOT NULL,
  parent       TEXT    NOT NULL,
  parent_lower TEXT    NOT NULL,
  relation     TEXT    NOT NULL,
  source       TEXT    NOT NULL,
  inferred     INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (child_lower, parent_lower)
) WITHOUT ROWID;
CREATE INDEX lineage_edges_by_parent ON lineage_edges (parent_lower, relation);

-- What sync knows of each mirrored (repo, revision), for /api/mirror/status. local_commit and
-- last_success change only when a sync succeeds; a failure records its time and error.
CREATE TABLE sync_state (
  type            TEXT    NOT NULL,
  repo            TEXT    NOT NULL,
  repo_lower      TEXT    NOT NULL,
  revision        TEXT    NOT NULL,
  upstream        TEXT    NOT NULL,
  upstream_commit TEXT,
  local_commit    TEXT,
  last_check      INTEGER NOT NULL,
  last_success    INTEGER,
  last_error      TEXT,
  PRIMARY KEY (type, repo_lower, revision)
) WITHOUT ROWID;
