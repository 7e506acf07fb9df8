-- Every table of the design's data model. Kept in lockstep with migrations/sqlite.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    created_at TIMESTAMP NOT NULL,
    disabled_at TIMESTAMP
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE videos (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES users (id),
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('processing', 'ready', 'failed', 'deleted')),
    file_name TEXT NOT NULL,
    size_bytes BIGINT NOT NULL DEFAULT 0,
    mime TEXT NOT NULL DEFAULT '',
    duration_ms BIGINT,
    width INTEGER,
    height INTEGER,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX videos_status_created_at ON videos (status, created_at);
CREATE INDEX videos_owner_id ON videos (owner_id);

CREATE TABLE comments (
    id TEXT PRIMARY KEY,
    video_id TEXT NOT NULL REFERENCES videos (id),
    author_id TEXT NOT NULL REFERENCES users (id),
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX comments_video_id_created_at ON comments (video_id, created_at);

CREATE TABLE rooms (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES users (id),
    title TEXT NOT NULL,
    source_url TEXT,
    on_demand BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX rooms_created_at ON rooms (created_at);

CREATE TABLE danmaku (
    id TEXT PRIMARY KEY,
    room_id TEXT REFERENCES rooms (id) ON DELETE CASCADE,
    video_id TEXT REFERENCES videos (id) ON DELETE CASCADE,
    author_id TEXT NOT NULL REFERENCES users (id),
    text TEXT NOT NULL,
    color TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('scroll', 'top', 'bottom')),
    video_ts_ms BIGINT,
    created_at TIMESTAMP NOT NULL,
    CHECK ((room_id IS NULL) <> (video_id IS NULL))
);
CREATE INDEX danmaku_room_id_created_at ON danmaku (room_id, created_at);
CREATE INDEX danmaku_video_id_ts ON danmaku (video_id, video_ts_ms);

CREATE TABLE video_del_rec (
    video_id TEXT PRIMARY KEY,
    requested_at TIMESTAMP NOT NULL
);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 5,
    run_at TIMESTAMP NOT NULL,
    locked_by TEXT,
    locked_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
CREATE INDEX jobs_state_run_at ON jobs (state, run_at);
CREATE INDEX jobs_kind_created_at ON jobs (kind, created_at);

CREATE TABLE room_bans (
    room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    until TIMESTAMP NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (room_id, user_id)
);
