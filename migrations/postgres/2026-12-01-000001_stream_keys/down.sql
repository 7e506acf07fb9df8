ALTER TABLE rooms DROP COLUMN stream_key;
