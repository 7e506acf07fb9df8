DROP TABLE audit_log;
DROP TABLE job_schedules;
DROP INDEX jobs_kind_state_run_at;
ALTER TABLE jobs DROP COLUMN started_at;
ALTER TABLE jobs DROP COLUMN result;
