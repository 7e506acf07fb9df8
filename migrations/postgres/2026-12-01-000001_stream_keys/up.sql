-- A pushed room's stream key: the secret part of what a publisher sends after
-- `rtmp://HOST:PORT/live/` (the room's id, `_`, this). Random, made by the server the first
-- time the owner asks for it, replaced on demand.
ALTER TABLE rooms ADD COLUMN stream_key TEXT;
