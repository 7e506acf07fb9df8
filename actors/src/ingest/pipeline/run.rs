//! The holder's ffmpeg runs: spawning them, what their reader threads report, and the
//! admin's start, stop and restart. The rules live in [`Lifecycle`]; this carries out its
//! steps.
//!
//! [`Lifecycle`]: super::super::lifecycle::Lifecycle

use std::time::Instant;

use actix::prelude::*;

use super::super::child::{
    self, ErrorLogged, FragmentReady, IngestExited, InitReady, InputParsed, ProgressReported,
};
use super::super::command::Transcode;
use super::super::lifecycle::Step;
use super::super::wire::PacketBody;
use super::IngestStatus;
use super::{ControlIngest, GetIngestStatus, IngestAction, IngestPipeline, IngestState, Role};
use crate::view::{self, NodeEvent};

impl IngestPipeline {
    /// Carries out what the lifecycle asks for.
    pub(super) fn apply(&mut self, step: Step, ctx: &mut Context<Self>) {
        match step {
            Step::Nothing => {}
            Step::Spawn => self.spawn_run(ctx),
            Step::RetryIn { delay, token } => {
                log::warn!(
                    "room {}: ingest failed ({}); restart {} in {delay:?}",
                    self.spec.room_id,
                    self.life.last_error().unwrap_or("no error"),
                    self.life.restarts()
                );
                ctx.run_later(delay, move |act, ctx| {
                    let step = act.life.retry_due(token);
                    act.apply(step, ctx);
                });
            }
        }
    }

    fn spawn_run(&mut self, ctx: &mut Context<Self>) {
        if !self.is_holder() {
            return;
        }
        if self.spec.pushed && self.publisher.is_none() {
            // Nothing to read: the next publisher starts the next run.
            self.life.stop();
            return;
        }
        self.progress = None;
        self.rate.clear();
        let feed = self.take_feed();
        let spawned = match std::fs::create_dir_all(&self.spec.hls_dir) {
            Err(e) => Err(format!(
                "cannot create {}: {e}",
                self.spec.hls_dir.display()
            )),
            Ok(()) => child::spawn(
                &self.spec,
                self.transcode,
                self.life.next_run(),
                feed,
                ctx.address(),
            )
            .map_err(|e| self.redact(&e.to_string())),
        };
        if let Ok(handle) = &spawned {
            log::info!(
                "room {}: ffmpeg {} pulling {}{}",
                self.spec.room_id,
                handle.pid(),
                self.spec.redacted,
                if self.transcode.video {
                    " (transcoding)"
                } else {
                    ""
                }
            );
        }
        let step = self.life.launch(spawned, Instant::now());
        self.apply(step, ctx);
    }

    /// An ffmpeg line with the source's secrets taken out (only its origin may remain).
    fn redact(&self, line: &str) -> String {
        super::super::redact::scrub(line, &self.spec.url)
    }

    pub(super) fn check_stall(&mut self) {
        let limit = self.spec.timing.stall_after;
        if self.life.check_stall(Instant::now(), limit) {
            log::warn!(
                "room {}: no progress for {limit:?}, killing ffmpeg",
                self.spec.room_id
            );
        }
    }

    fn publish_packet(&self, seq: u64, body: PacketBody) {
        if self.bus.is_shared() {
            let packet = super::super::wire::Packet {
                stream: self.stream,
                seq,
                body,
            };
            self.bus.publish(self.video_subject(), packet.encode());
        }
    }
}

impl Handler<InitReady> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: InitReady, _: &mut Context<Self>) {
        if msg.run != self.life.run() {
            return;
        }
        self.stream = rand_stream_id();
        self.fragment_seq = 0;
        self.publish_packet(0, PacketBody::Init(msg.init.clone()));
        self.fanout.init(msg.init);
    }
}

impl Handler<FragmentReady> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: FragmentReady, _: &mut Context<Self>) {
        if msg.run != self.life.run() {
            return;
        }
        if self.life.fragment(msg.run, Instant::now()) {
            log::info!("room {}: live", self.spec.room_id);
        }
        self.fragment_seq += 1;
        self.rate.add(msg.read_at, msg.bytes.len());
        self.publish_packet(
            self.fragment_seq,
            PacketBody::Fragment {
                bytes: msg.bytes.clone(),
                keyframe: msg.keyframe,
            },
        );
        self.fanout
            .fragment(msg.bytes, msg.keyframe, Some(msg.read_at));
    }
}

impl Handler<ProgressReported> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: ProgressReported, _: &mut Context<Self>) {
        // Only fragments count against a stall: a status line alone does not feed viewers.
        if msg.run == self.life.run() {
            self.progress = Some((msg.fps, msg.bitrate_kbps, msg.speed));
        }
    }
}

impl Handler<InputParsed> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: InputParsed, ctx: &mut Context<Self>) {
        // A pushed run chose from the publisher's first tags; it cannot be read again.
        if msg.run != self.life.run() || self.spec.pushed {
            return;
        }
        let wanted = Transcode {
            video: msg.video.as_deref().is_some_and(|c| c != "h264"),
            audio: msg.audio.as_deref().is_some_and(|c| c != "aac"),
        };
        if wanted != self.transcode && (wanted.video || wanted.audio) {
            log::info!(
                "room {}: source is {} / {}: transcoding",
                self.spec.room_id,
                msg.video.as_deref().unwrap_or("no video"),
                msg.audio.as_deref().unwrap_or("no audio")
            );
            self.transcode = wanted;
            let step = self.life.replace();
            self.apply(step, ctx);
        }
    }
}

impl Handler<ErrorLogged> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: ErrorLogged, _: &mut Context<Self>) {
        if msg.run == self.life.run() {
            let line = self.redact(msg.line.trim());
            log::debug!("room {}: ffmpeg: {line}", self.spec.room_id);
            self.life.note_error(line);
        }
    }
}

impl Handler<IngestExited> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: IngestExited, ctx: &mut Context<Self>) {
        if msg.run != self.life.run() {
            return;
        }
        self.progress = None;
        self.rate.clear();
        let mut step = self.life.exited(msg.run, &msg.status, Instant::now());
        if self.spec.pushed && matches!(step, Step::RetryIn { .. }) {
            // A pushed stream cannot be read again from its start: end here.
            self.cut_off_publisher(ctx);
            step = Step::Nothing;
        }
        if self.life.state() == IngestState::Stopped {
            log::info!("room {}: ffmpeg stopped", self.spec.room_id);
        }
        self.apply(step, ctx);
    }
}

impl Handler<ControlIngest> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: ControlIngest, ctx: &mut Context<Self>) {
        match self.role {
            Role::Retired => return,
            Role::Follower { .. } => {
                view::publish(
                    &self.bus,
                    &NodeEvent::IngestControl {
                        node: self.bus.node().to_string(),
                        room: self.spec.room_id.clone(),
                        action: msg.action,
                    },
                );
                return;
            }
            Role::Holder { .. } => {}
        }
        self.demand.hold_off(msg.action == IngestAction::Stop);
        let step = match msg.action {
            IngestAction::Start => self.life.start(),
            IngestAction::Stop => {
                self.life.stop();
                Step::Nothing
            }
            IngestAction::Restart => self.life.restart(),
        };
        self.apply(step, ctx);
    }
}

impl Handler<GetIngestStatus> for IngestPipeline {
    type Result = MessageResult<GetIngestStatus>;

    fn handle(&mut self, _: GetIngestStatus, _: &mut Context<Self>) -> Self::Result {
        if self.is_holder() {
            return MessageResult(self.status());
        }
        let reported = view::read(&self.view).ingest(&self.spec.room_id);
        MessageResult(match reported {
            Some((_, status)) => status,
            None => IngestStatus {
                node: None,
                // A pushed room nobody publishes to waits; a pulled source waits for a node.
                state: if self.spec.pushed {
                    IngestState::Waiting
                } else {
                    IngestState::Starting
                },
                restarts: 0,
                last_error: (!self.spec.pushed)
                    .then(|| "waiting for a node to take the source".into()),
                fps: None,
                bitrate_kbps: None,
                speed: None,
                video_viewers: self.fanout.viewers(),
                transcoding: false,
                on_demand: self.spec.on_demand,
                pid: None,
                publisher: None,
            },
        })
    }
}

/// A random id for a new stream.
fn rand_stream_id() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}
