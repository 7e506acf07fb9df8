//! What a room is told and asked: joins and leaves, messages, moderation, and what it
//! answers with.

use std::sync::Arc;
use std::time::SystemTime;

use actix::prelude::*;

use super::Room;
use crate::filter::WordFilter;
use crate::hub::WorkerHub;
use crate::protocol::{ErrorCode, Mode, ServerFrame};

/// A room's actor stopped.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RoomStopped {
    /// The room's id.
    pub id: Arc<str>,
    /// The actor that stopped (a newer one may already run).
    pub addr: Addr<Room>,
}

/// Adds a viewer (on the hub `hub_id`) and welcomes it through that hub.
#[derive(Message)]
#[rtype(result = "Result<(), RoomGone>")]
pub struct JoinRoom {
    /// The viewer.
    pub viewer_id: u64,
    /// Its worker's hub id.
    pub hub_id: usize,
    /// Its worker's hub.
    pub hub: Addr<WorkerHub>,
    /// Where a reconnecting viewer left off.
    pub resume: Option<Resume>,
    /// The viewer gets compressed frames.
    pub compressed: bool,
}

/// A reconnecting viewer's place: the room's `epoch` and the last batch `seq` it received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    pub epoch: String,
    pub since: u64,
}

/// Removes a viewer of hub `hub_id`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LeaveRoom {
    /// Its worker's hub id.
    pub hub_id: usize,
    /// The viewer got compressed frames.
    pub compressed: bool,
}

/// Offers a message; `Err` says why it was refused.
#[derive(Message)]
#[rtype(result = "Result<(), Rejection>")]
pub struct SendDanmaku {
    /// The author's id.
    pub user_id: String,
    /// The author's username.
    pub username: String,
    /// Validated text.
    pub text: String,
    /// `#rrggbb`.
    pub color: String,
    /// Where it shows.
    pub mode: Mode,
    /// The author is a site admin (exempt from slow mode, like the room's moderators).
    pub admin: bool,
}

/// Removes messages from history and tells every viewer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RetractDanmaku {
    /// The messages' ids.
    pub ids: Vec<String>,
}

/// Mutes a user in this room until `until`; their open sockets are told.
#[derive(Message)]
#[rtype(result = "()")]
pub struct BanUser {
    /// The user's id.
    pub user_id: String,
    /// When the ban ends.
    pub until: SystemTime,
}

/// Lifts a user's ban or mute in this room.
#[derive(Message)]
#[rtype(result = "()")]
pub struct UnbanUser {
    pub user_id: String,
}

/// The room's moderators changed its rules (words, slow mode, moderators): it reads them
/// again.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReloadRules;

/// The site's filter words changed: this is the new filter.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetGlobalFilter(pub Arc<WordFilter>);

/// Closes every connection of a user in this room (their account was disabled).
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct DisconnectUser {
    pub user_id: String,
}

/// The number of viewers now.
#[derive(Message)]
#[rtype(result = "u64")]
pub struct GetOnline;

/// The room stopped before it could answer.
#[derive(Debug)]
pub struct RoomGone;

/// A refused message: the error frame's code, text and wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: ErrorCode,
    pub message: String,
    pub retry_after_ms: Option<u64>,
}

impl Rejection {
    pub fn to_frame(&self) -> ServerFrame {
        ServerFrame::Error {
            code: self.code,
            message: self.message.clone(),
            retry_after_ms: self.retry_after_ms,
        }
    }
}
