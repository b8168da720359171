-- The people of this instance. Users and organizations are namespaces that repos belong to and
-- share one set of names (the registry refuses a name the other table holds); names keep the
-- case they were created with and match case-insensitively through name_lower.
CREATE TABLE users (
  id         INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL,
  name_lower TEXT    NOT NULL UNIQUE,
  is_admin   INTEGER NOT NULL DEFAULT 0,
  is_robot   INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);

CREATE TABLE orgs (
  id         INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL,
  name_lower TEXT    NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);

CREATE TABLE org_members (
  org_id  INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role    TEXT    NOT NULL CHECK (role IN ('read', 'write', 'admin')),
  PRIMARY KEY (org_id, user_id)
) WITHOUT ROWID;
-- A token's check reads its user's organizations.
CREATE INDEX org_members_by_user ON org_members (user_id, org_id);

-- Access tokens. Only the SHA-256 of the secret is kept (the secret is shown once, when it is
-- created); each request finds its token by that hash. Names stay taken after a revocation, so a
-- name in the audit log always means one token.
CREATE TABLE tokens (
  id            INTEGER PRIMARY KEY,
  user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name          TEXT    NOT NULL,
  secret_sha256 TEXT    NOT NULL UNIQUE,
  scope         TEXT    NOT NULL CHECK (scope IN ('read', 'write')),
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER,
  revoked_at    INTEGER,
  UNIQUE (user_id, name)
);

-- Access to gated and private repos, one row per (repo, user): asked for by the user (with the
-- terms they accepted) or given directly, then decided. decided_by is a user name, or "hubmirror"
-- for a repo that grants access when asked; it stays text so the record outlives the user.
CREATE TABLE access_requests (
  repo_id      INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
  user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  status       TEXT    NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected')),
  requested_at INTEGER NOT NULL,
  decided_at   INTEGER,
  decided_by   TEXT,
  terms        TEXT    NOT NULL DEFAULT '',
  reason       TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (repo_id, user_id)
) WITHOUT ROWID;
-- Removing a user removes their requests.
CREATE INDEX access_requests_by_user ON access_requests (user_id);

-- Security-relevant events. Append-only: the triggers refuse every change and deletion, so the
-- record of who did what cannot be rewritten through the registry.
CREATE TABLE audit_events (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  at      INTEGER NOT NULL,
  actor   TEXT    NOT NULL,
  action  TEXT    NOT NULL,
  target  TEXT    NOT NULL,
  outcome TEXT    NOT NULL,
  address TEXT    NOT NULL DEFAULT '',
  detail  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_by_time ON audit_events (at);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- The operator's visibility and gating of a repo; NULL leaves the upstream's flag (private,
-- gated), which every sync refreshes, in force.
ALTER TABLE repos ADD COLUMN private_setting INTEGER CHECK (private_setting IN (0, 1));
ALTER TABLE repos ADD COLUMN gated_setting TEXT CHECK (gated_setting IN ('false', 'auto', 'manual'));
-- Lineage answers leave out the private models: few, found without reading every repo.
CREATE INDEX repos_private ON repos (type, name_lower)
  WHERE COALESCE(private_setting, private) != 0;
