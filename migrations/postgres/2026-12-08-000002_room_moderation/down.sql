DROP TABLE word_filters;
DROP TABLE room_moderators;
ALTER TABLE rooms DROP COLUMN slow_mode_secs;
