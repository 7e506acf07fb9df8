-- Room moderation: moderators the owner names, slow mode, and word filters (a room's own
-- list, and the site's under the scope '*').
ALTER TABLE rooms ADD COLUMN slow_mode_secs INTEGER NOT NULL DEFAULT 0;

CREATE TABLE room_moderators (
    room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (room_id, user_id)
);

-- `scope` is a room's id, or '*' for the words that hold in every room. Words are stored
-- folded (NFKC, lower case).
CREATE TABLE word_filters (
    scope TEXT NOT NULL,
    word TEXT NOT NULL,
    PRIMARY KEY (scope, word)
);
