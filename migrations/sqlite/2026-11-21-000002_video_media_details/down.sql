ALTER TABLE videos DROP COLUMN failure_reason;
ALTER TABLE videos DROP COLUMN audio_codec;
ALTER TABLE videos DROP COLUMN video_codec;
