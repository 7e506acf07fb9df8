-- Many nodes: each live source is pulled by the node holding its lease. The holder renews
-- it every few seconds; when it dies the lease expires and another node takes it.
CREATE TABLE ingest_leases (
    room_id TEXT PRIMARY KEY,
    node_id TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
