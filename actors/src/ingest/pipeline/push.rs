//! A pushed source: one publisher at a time feeds the run's ffmpeg through stdin. A run
//! starts when the publisher's first tags are in (so their codecs decide copy or
//! transcode) and ends, without back-off, when the publisher leaves; a run that fails
//! while the publisher is still there cuts the publisher off (encoders reconnect on their
//! own) rather than retrying with a stream that has lost its start.
//!
//! When nodes share a bus, the node whose publisher's stream starts holds the room (its
//! connection took the room's lease first) and every other node follows it; when the
//! publisher goes, this node follows again, ready for a publisher on any node.

use std::sync::Arc;

use actix::prelude::*;
use tokio::sync::Notify;

use super::super::child::Feed;
use super::super::command::Transcode;
use super::super::status::PublisherInfo;
use super::{
    AttachPublisher, CutOffPublisher, DetachPublisher, IngestPipeline, PushRefused,
    ReportPublisher, StartFeed,
};

/// The publisher pushing to this source.
pub(super) struct Publisher {
    id: u64,
    cut_off: Arc<Notify>,
    /// Its stream, until a run takes it.
    feed: Option<Feed>,
    info: Option<PublisherInfo>,
}

impl IngestPipeline {
    /// The attached publisher's stream, for the run about to start.
    pub(super) fn take_feed(&mut self) -> Option<Feed> {
        self.publisher.as_mut().and_then(|p| p.feed.take())
    }

    /// What the status shows of the publisher.
    pub(super) fn publisher_info(&self) -> Option<PublisherInfo> {
        self.publisher.as_ref().and_then(|p| p.info.clone())
    }

    /// The connection id of the attached publisher (whose lease this node holds).
    pub(super) fn publisher_id(&self) -> Option<u64> {
        self.publisher.as_ref().map(|p| p.id)
    }

    /// The run failed while the publisher was still pushing: cut it off.
    pub(super) fn cut_off_publisher(&mut self, ctx: &mut Context<Self>) {
        if let Some(p) = self.publisher.take() {
            log::warn!(
                "room {}: the run failed; cutting the publisher off",
                self.spec.room_id
            );
            p.cut_off.notify_one();
        }
        self.publisher_gone(ctx);
    }

    /// The run ends without back-off, and its last pictures go with it (a viewer joining
    /// the waiting room must not start at a frozen frame); with other nodes, this node
    /// follows again.
    fn publisher_gone(&mut self, ctx: &mut Context<Self>) {
        if self.bus.is_shared() {
            self.become_follower(ctx);
        } else {
            self.life.stop();
            self.fanout.forget_stream();
        }
    }
}

impl Handler<AttachPublisher> for IngestPipeline {
    type Result = Result<(), PushRefused>;

    fn handle(&mut self, msg: AttachPublisher, _: &mut Context<Self>) -> Self::Result {
        if !self.spec.pushed {
            return Err(PushRefused::PullSource);
        }
        if self.publisher.is_some() {
            return Err(PushRefused::Busy);
        }
        self.publisher = Some(Publisher {
            id: msg.publisher,
            cut_off: msg.cut_off,
            feed: None,
            info: None,
        });
        Ok(())
    }
}

impl Handler<StartFeed> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: StartFeed, ctx: &mut Context<Self>) {
        let Some(publisher) = self.publisher.as_mut().filter(|p| p.id == msg.publisher) else {
            return;
        };
        publisher.feed = Some(msg.feed);
        self.transcode = Transcode {
            video: msg.video.as_deref().is_some_and(|c| c != "h264"),
            audio: msg.audio.as_deref().is_some_and(|c| c != "aac"),
        };
        log::info!(
            "room {}: publisher live ({} / {}{})",
            self.spec.room_id,
            msg.video.as_deref().unwrap_or("no video"),
            msg.audio.as_deref().unwrap_or("no audio"),
            if self.transcode.video || self.transcode.audio {
                ", transcoding"
            } else {
                ""
            }
        );
        if self.is_holder() {
            let step = self.life.start();
            self.apply(step, ctx);
        } else {
            log::info!("room {}: this node has the publisher", self.spec.room_id);
            self.hold(ctx);
        }
    }
}

impl Handler<DetachPublisher> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: DetachPublisher, ctx: &mut Context<Self>) {
        if self.publisher_id() == Some(msg.publisher) {
            log::info!("room {}: publisher left", self.spec.room_id);
            self.publisher = None;
            self.publisher_gone(ctx);
        }
    }
}

impl Handler<CutOffPublisher> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, _: CutOffPublisher, ctx: &mut Context<Self>) {
        if let Some(p) = self.publisher.take() {
            log::info!("room {}: publisher cut off", self.spec.room_id);
            p.cut_off.notify_one();
            self.publisher_gone(ctx);
        }
    }
}

impl Handler<ReportPublisher> for IngestPipeline {
    type Result = ();

    fn handle(&mut self, msg: ReportPublisher, _: &mut Context<Self>) {
        if let Some(p) = self.publisher.as_mut().filter(|p| p.id == msg.publisher) {
            p.info = Some(msg.info);
        }
    }
}
