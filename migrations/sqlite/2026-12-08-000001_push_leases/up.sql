-- A pushed room is held by the node its publisher reached: that node's lease names the
-- publisher (`NODE/CONNECTION`), so a publisher that leaves releases exactly its own lease
-- and a newer one on the same node keeps its. NULL for the leases of pulled sources.
ALTER TABLE ingest_leases ADD COLUMN publisher TEXT;
