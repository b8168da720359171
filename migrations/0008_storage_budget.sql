-- The storage budget ([storage] max_bytes) evicts content that pull-through fetched, least recently
-- used repo first. `pinned` (`hubmirror repo settings --pinned true`) keeps a repo's content out of
-- eviction; `last_used_at` (unix ms) is when a client last asked pull-through for one of its files.
ALTER TABLE repos ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE repos ADD COLUMN last_used_at INTEGER NOT NULL DEFAULT 0;
