-- An admin's stop of a live source outlives the pipeline: a restart, a takeover by another
-- node or a rebalance leaves the source stopped until an admin starts it again (or, for an
-- on-demand source, a new viewer wakes it).
ALTER TABLE rooms ADD COLUMN source_stopped BOOLEAN NOT NULL DEFAULT FALSE;
