ALTER TABLE ingest_leases DROP COLUMN publisher;
