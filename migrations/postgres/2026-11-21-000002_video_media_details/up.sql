-- What probing found and why processing failed, shown by the API and the watch page.
ALTER TABLE videos ADD COLUMN video_codec TEXT NOT NULL DEFAULT '';
ALTER TABLE videos ADD COLUMN audio_codec TEXT NOT NULL DEFAULT '';
ALTER TABLE videos ADD COLUMN failure_reason TEXT;
