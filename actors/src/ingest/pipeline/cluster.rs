//! The pipeline's part among nodes: the holder answers snapshot requests; a follower with
//! viewers subscribes to the holder's stream, asks for a snapshot and relays what arrives;
//! the supervisor moves the role when the lease moves, and retires a pipeline it let go.

use std::time::Instant;

use actix::prelude::*;
use bytes::Bytes;

use super::super::follow::Follower;
use super::super::wire::{Packet, PacketBody};
use super::{
    ControlIngest, Demanded, GetReport, IngestPipeline, PipelineReport, RemoteControl, Retire,
    Role, SetRole,
};
use crate::bus::{BusMessage, Subscription};
use crate::view::{self, NodeEvent};

/// A follower reading the holder's stream.
pub(super) struct Following {
    _subscription: Subscription,
    reader: Follower,
}

impl IngestPipeline {
    pub(super) fn video_subject(&self) -> String {
        self.bus.subject(&format!("video.{}", self.spec.room_id))
    }

    /// Becomes the source's puller: answer snapshots and run ffmpeg if it is wanted.
    pub(super) fn hold(&mut self, ctx: &mut Context<Self>) {
        let subject = format!("{}.snapshot", self.video_subject());
        self.role = Role::Holder {
            _snapshots: self.bus.subscribe(subject, ctx.address().recipient()),
        };
        let viewers = self.viewers_everywhere();
        if self.demand.wants(viewers, Instant::now()) {
            let step = self.life.start();
            self.apply(step, ctx);
        }
    }

    /// Tells the puller of this on-demand source that this node has a new viewer.
    pub(super) fn ask_for_source(&self) {
        if self.spec.on_demand {
            view::publish(
                &self.bus,
                &NodeEvent::Demand {
                    node: self.bus.node().to_string(),
                    room: self.spec.room_id.clone(),
                },
            );
        }
    }

    /// A follower with viewers: subscribe to the holder's stream and ask for a snapshot.
    pub(super) fn follow(&mut self, ctx: &mut Context<Self>) {
        if !self.bus.is_shared() {
            return;
        }
        let to = ctx.address().recipient();
        let Some(subscription) = self.bus.subscribe(self.video_subject(), to.clone()) else {
            return;
        };
        self.role = Role::Follower {
            following: Some(Following {
                _subscription: subscription,
                reader: Follower::awaiting_snapshot(),
            }),
        };
        self.bus.request(
            format!("{}.snapshot", self.video_subject()),
            Bytes::new(),
            to,
        );
        self.ask_for_source();
        ctx.run_later(self.spec.timing.snapshot_wait, |act, _| {
            if let Role::Follower {
                following: Some(f), ..
            } = &mut act.role
            {
                let media = f.reader.give_up_snapshot(Instant::now());
                act.fanout.media(media);
            }
        });
    }

    /// Another node runs the source now: stop ffmpeg and relay that node's stream to this
    /// node's viewers.
    pub(super) fn become_follower(&mut self, ctx: &mut Context<Self>) {
        self.life.stop();
        self.role = Role::Follower { following: None };
        self.fanout.forget_stream();
        if self.fanout.viewers() > 0 {
            self.follow(ctx);
        }
    }

    pub(super) fn unfollow(&mut self) {
        if let Role::Follower { following } = &mut self.role {
            *following = None;
        }
        self.fanout.forget_stream();
    }

    /// The holder's answer to a snapshot request: the init segment and the fragments since
    /// the last keyframe, or the init segment alone if they do not fit in one message.
    fn answer_snapshot(&self, reply: String) {
        let cache = self.fanout.cache();
        let Some(init) = cache.init() else {
            return;
        };
        let mut packet = Packet {
            stream: self.stream,
            seq: self.fragment_seq,
            body: PacketBody::Snapshot {
                init: init.clone(),
                gop: cache.fragments().to_vec(),
            },
        };
        let mut encoded = packet.encode();
        if encoded.len() > self.bus.max_payload() {
            packet.body = PacketBody::Snapshot {
                init: init.clone(),
                gop: Vec::new(),
            };
            encoded = packet.encode();
        }
        self.bus.publish(reply, encoded);
    }
}

impl Handler<SetRole> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: SetRole, ctx: &mut Context<Self>) {
        if msg.holder == self.is_holder() || matches!(self.role, Role::Retired) {
            return;
        }
        if msg.holder {
            log::info!("room {}: this node now pulls the source", self.spec.room_id);
            self.demand.hold_off(msg.stopped);
            self.hold(ctx);
            return;
        }
        log::info!("room {}: another node pulls the source", self.spec.room_id);
        self.become_follower(ctx);
    }
}

impl Handler<Retire> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, _: Retire, _: &mut Context<Self>) {
        self.life.stop();
        self.role = Role::Retired;
    }
}

impl Handler<RemoteControl> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: RemoteControl, ctx: &mut Context<Self>) {
        if self.is_holder() {
            self.handle(ControlIngest { action: msg.action }, ctx);
        }
    }
}

impl Handler<Demanded> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, _: Demanded, ctx: &mut Context<Self>) {
        self.demand.demanded(Instant::now());
        self.wake();
        self.review_demand(ctx);
    }
}

impl Handler<GetReport> for IngestPipeline {
    type Result = MessageResult<GetReport>;

    fn handle(&mut self, _: GetReport, _: &mut Context<Self>) -> Self::Result {
        let status = self.is_holder().then(|| self.status());
        MessageResult(PipelineReport {
            viewers: self.fanout.viewers(),
            status,
            publisher: self.publisher_id(),
        })
    }
}

impl Handler<BusMessage> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: BusMessage, _: &mut Context<Self>) {
        match (&mut self.role, msg.reply) {
            (Role::Holder { .. }, Some(reply)) => self.answer_snapshot(reply),
            (Role::Follower { following: Some(f) }, None) => match Packet::decode(msg.payload) {
                Some(packet) => {
                    let media = f.reader.take(packet, Instant::now());
                    self.fanout.media(media);
                }
                None => log::warn!("room {}: unreadable video packet", self.spec.room_id),
            },
            _ => {}
        }
    }
}
