DROP TABLE ingest_leases;
