//! The live-room wire protocol (DESIGN section 6) as serde enums: text frames of JSON, a
//! `type` field naming the variant.

use serde::{Deserialize, Serialize};

/// How a danmaku moves across the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Scroll,
    Top,
    Bottom,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Scroll => "scroll",
            Mode::Top => "top",
            Mode::Bottom => "bottom",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "scroll" => Some(Mode::Scroll),
            "top" => Some(Mode::Top),
            "bottom" => Some(Mode::Bottom),
            _ => None,
        }
    }
}

/// A frame from a viewer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ClientFrame {
    /// Post a danmaku; `color` and `mode` default to white and scroll.
    Send {
        text: String,
        #[serde(default)]
        color: Option<String>,
        #[serde(default)]
        mode: Option<String>,
    },
}

impl ClientFrame {
    /// Parses a text frame. Only a JSON object is a frame: serde would also take an array
    /// for an internally tagged enum, which no client of ours sends.
    pub fn parse(text: &str) -> Result<Self, String> {
        if !text.trim_start().starts_with('{') {
            return Err("a frame is a JSON object".into());
        }
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

/// One accepted danmaku as viewers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    /// The author's username.
    pub user: String,
    pub text: String,
    pub color: String,
    pub mode: Mode,
    /// Unix milliseconds when the server accepted it.
    pub at: i64,
}

/// Why a viewer's frame was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    RateLimited,
    TooLong,
    Muted,
    Unauthenticated,
    BadFrame,
    /// The message holds a word of the room's or the site's filter list.
    Filtered,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooLong => "too_long",
            ErrorCode::Muted => "muted",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::Filtered => "filtered",
        }
    }
}

/// A frame to viewers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerFrame {
    /// First frame after joining. `epoch` names this run of the room and `seq` the last
    /// batch sent before this hello: a viewer that reconnects with both resumes after it.
    /// `recovered`: `history` holds exactly the items sent after the batch the viewer asked
    /// to resume from; otherwise it is the usual recent history.
    Hello {
        room: String,
        online: u64,
        history: Vec<Item>,
        epoch: String,
        seq: u64,
        recovered: bool,
        /// Slow mode: one message per user per this many seconds (0: off; moderators are
        /// exempt).
        #[serde(default)]
        slow_mode_secs: u64,
    },
    /// Everything accepted in one window; `seq` rises by one per frame.
    Batch { seq: u64, items: Vec<Item> },
    /// The room's online count changed.
    Online { count: u64 },
    /// A moderator changed the room's slow mode.
    Rules { slow_mode_secs: u64 },
    /// To a user's own sockets: a moderator lifted their mute or ban.
    Unmuted,
    /// A moderator removed these messages.
    Retract { ids: Vec<String> },
    /// A frame of this viewer's was refused.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        retry_after_ms: Option<u64>,
    },
}

impl ServerFrame {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerFrame::Error {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// The JSON text of this frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("frames always serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_frame_parses_with_optional_color_and_mode() {
        let f: ClientFrame = serde_json::from_str(r#"{"type":"send","text":"hi"}"#).unwrap();
        assert_eq!(
            f,
            ClientFrame::Send {
                text: "hi".into(),
                color: None,
                mode: None
            }
        );
        let f: ClientFrame =
            serde_json::from_str(r##"{"type":"send","text":"hi","color":"#ff0000","mode":"top"}"##)
                .unwrap();
        assert!(matches!(f, ClientFrame::Send { mode: Some(m), .. } if m == "top"));
    }

    #[test]
    fn unknown_types_and_fields_are_refused() {
        for bad in [
            r#"{"type":"shout","text":"hi"}"#,
            r#"{"type":"send"}"#,
            r#"{"type":"send","text":"hi","admin":true}"#,
            r#"["send","hi"]"#,
        ] {
            assert!(ClientFrame::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_frames_serialise_as_the_design_says() {
        let batch = ServerFrame::Batch {
            seq: 7,
            items: vec![Item {
                id: "m1".into(),
                user: "alice".into(),
                text: "<b>hi</b>".into(),
                color: "#ffffff".into(),
                mode: Mode::Scroll,
                at: 1700000000000,
            }],
        };
        assert_eq!(
            batch.to_json(),
            r##"{"type":"batch","seq":7,"items":[{"id":"m1","user":"alice","text":"<b>hi</b>","color":"#ffffff","mode":"scroll","at":1700000000000}]}"##
        );
        let err = ServerFrame::Error {
            code: ErrorCode::RateLimited,
            message: "slow down".into(),
            retry_after_ms: Some(1500),
        };
        assert_eq!(
            err.to_json(),
            r#"{"type":"error","code":"rate_limited","message":"slow down","retry_after_ms":1500}"#
        );
        assert_eq!(
            ServerFrame::Online { count: 3 }.to_json(),
            r#"{"type":"online","count":3}"#
        );
    }
}
