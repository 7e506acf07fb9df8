DROP TABLE audit_log;
DROP TABLE job_schedules;
DROP INDEX video_del_rec_requested_at;
DROP INDEX jobs_kind_state_run_at;
ALTER TABLE jobs DROP COLUMN started_at;
ALTER TABLE jobs DROP COLUMN result;
