//! Table definitions shared by the SQLite and PostgreSQL migration trees.
//!
//! Ids are UUIDs stored as text and timestamps are UTC without a zone, so both backends
//! map to the same Rust types through the multi-connection.

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        created_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        token_hash -> Text,
        user_id -> Text,
        csrf_token -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    videos (id) {
        id -> Text,
        owner_id -> Text,
        title -> Text,
        description -> Text,
        status -> Text,
        file_name -> Text,
        size_bytes -> BigInt,
        mime -> Text,
        duration_ms -> Nullable<BigInt>,
        width -> Nullable<Integer>,
        height -> Nullable<Integer>,
        created_at -> Timestamp,
        video_codec -> Text,
        audio_codec -> Text,
        failure_reason -> Nullable<Text>,
    }
}

diesel::table! {
    comments (id) {
        id -> Text,
        video_id -> Text,
        author_id -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    danmaku (id) {
        id -> Text,
        room_id -> Nullable<Text>,
        video_id -> Nullable<Text>,
        author_id -> Text,
        text -> Text,
        color -> Text,
        mode -> Text,
        video_ts_ms -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    rooms (id) {
        id -> Text,
        owner_id -> Text,
        title -> Text,
        source_url -> Nullable<Text>,
        on_demand -> Bool,
        created_at -> Timestamp,
        source_stopped -> Bool,
        stream_key -> Nullable<Text>,
        slow_mode_secs -> Integer,
    }
}

diesel::table! {
    video_del_rec (video_id) {
        video_id -> Text,
        requested_at -> Timestamp,
    }
}

diesel::table! {
    jobs (id) {
        id -> Text,
        kind -> Text,
        payload -> Text,
        state -> Text,
        attempts -> Integer,
        max_attempts -> Integer,
        run_at -> Timestamp,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        result -> Nullable<Text>,
        started_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    job_schedules (kind) {
        kind -> Text,
        every_secs -> BigInt,
        paused -> Bool,
        next_run_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        actor_id -> Nullable<Text>,
        actor_name -> Text,
        action -> Text,
        target -> Text,
        detail -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    room_bans (room_id, user_id) {
        room_id -> Text,
        user_id -> Text,
        until -> Timestamp,
        reason -> Text,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(videos -> users (owner_id));
diesel::joinable!(rooms -> users (owner_id));
diesel::joinable!(danmaku -> users (author_id));
diesel::joinable!(room_bans -> users (user_id));
diesel::joinable!(room_moderators -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    videos,
    comments,
    danmaku,
    rooms,
    video_del_rec,
    jobs,
    job_schedules,
    audit_log,
    room_bans,
    ingest_leases,
    room_moderators,
    word_filters,
);

diesel::table! {
    ingest_leases (room_id) {
        room_id -> Text,
        node_id -> Text,
        expires_at -> Timestamp,
        publisher -> Nullable<Text>,
    }
}

diesel::table! {
    room_moderators (room_id, user_id) {
        room_id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    word_filters (scope, word) {
        scope -> Text,
        word -> Text,
    }
}
