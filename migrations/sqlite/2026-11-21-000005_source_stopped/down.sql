ALTER TABLE rooms DROP COLUMN source_stopped;
