-- Garbage collection forgets the rows of blobs it removed unless a file names them, and verify
-- names the files of a damaged blob: both look files up by content.
CREATE INDEX entries_by_sha256 ON entries (sha256) WHERE sha256 IS NOT NULL;
