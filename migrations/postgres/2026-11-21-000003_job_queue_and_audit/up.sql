-- The job queue keeps each run's summary and start time; schedules live in the database so
-- that every node sees the same pause state and a period is enqueued once across nodes;
-- every admin action is written to the audit log.
ALTER TABLE jobs ADD COLUMN result TEXT;
ALTER TABLE jobs ADD COLUMN started_at TIMESTAMP;
CREATE INDEX jobs_kind_state_run_at ON jobs (kind, state, run_at);
-- The cleanup reads the deletion outbox oldest first, a batch at a time.
CREATE INDEX video_del_rec_requested_at ON video_del_rec (requested_at);

CREATE TABLE job_schedules (
    kind TEXT PRIMARY KEY,
    every_secs BIGINT NOT NULL,
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    next_run_at TIMESTAMP NOT NULL
);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    actor_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_created_at ON audit_log (created_at);
