-- Models known through lineage (ancestors and descendants seen upstream), mirrored or not, with
-- the details lineage answers show: a node that is not mirrored still has its task, library and
-- download count. Mirrored repos keep theirs in repos too.
CREATE TABLE lineage_models (
  name_lower   TEXT    PRIMARY KEY,
  name         TEXT    NOT NULL,
  pipeline_tag TEXT    NOT NULL DEFAULT '',
  library_name TEXT    NOT NULL DEFAULT '',
  downloads    INTEGER NOT NULL DEFAULT 0,
  updated_at   INTEGER NOT NULL
) WITHOUT ROWID;

-- Bumped by every change to what lineage answers are built from, so that an in-memory copy of
-- the graph knows when it is stale.
CREATE TABLE lineage_generation (
  only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
  value    INTEGER NOT NULL
);
INSERT INTO lineage_generation (only_row, value) VALUES (1, 0);

CREATE TRIGGER lineage_edges_inserted AFTER INSERT ON lineage_edges
BEGIN UPDATE lineage_generation SET value = value + 1; END;
CREATE TRIGGER lineage_edges_updated AFTER UPDATE ON lineage_edges
BEGIN UPDATE lineage_generation SET value = value + 1; END;
CREATE TRIGGER lineage_edges_deleted AFTER DELETE ON lineage_edges
BEGIN UPDATE lineage_generation SET value = value + 1; END;
CREATE TRIGGER lineage_models_inserted AFTER INSERT ON lineage_models
BEGIN UPDATE lineage_generation SET value = value + 1; END;
CREATE TRIGGER lineage_models_updated AFTER UPDATE ON lineage_models
BEGIN UPDATE lineage_generation SET value = value + 1; END;
CREATE TRIGGER repos_inserted AFTER INSERT ON repos
BEGIN UPDATE lineage_generation SET value = value + 1; END;
CREATE TRIGGER repos_deleted AFTER DELETE ON repos
BEGIN UPDATE lineage_generation SET value = value + 1; END;
CREATE TRIGGER repos_details_updated AFTER UPDATE OF name, pipeline_tag, library_name, downloads
ON repos BEGIN UPDATE lineage_generation SET value = value + 1; END;
