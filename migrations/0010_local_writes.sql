-- A mirrored repo's mirror rule may let clients add branches and tags of their own, and commit
-- to them (`writable = true`); the refs the mirror syncs stay the upstream's either way.
ALTER TABLE repos ADD COLUMN local_writes INTEGER NOT NULL DEFAULT 0;
