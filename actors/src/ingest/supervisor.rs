//! `IngestSupervisor`: one per node. It owns a pipeline per room with a source, replaces it
//! when the room's source changes, finds it for viewers and admins, and stops them all (and
//! so every ffmpeg) when it stops.

use std::collections::HashMap;

use actix::prelude::*;

use super::command::IngestSpec;
use super::pipeline::IngestPipeline;

/// Starts the room's pipeline, or replaces it if the source or its settings changed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct EnsureIngest {
    pub spec: IngestSpec,
}

/// Stops and forgets the room's pipeline (its source was removed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoveIngest {
    pub room_id: String,
}

/// The room's pipeline, if it has a source.
#[derive(Message)]
#[rtype(result = "Option<Addr<IngestPipeline>>")]
pub struct FindIngest {
    pub room_id: String,
}

#[derive(Default)]
pub struct IngestSupervisor {
    pipelines: HashMap<String, (IngestSpec, Addr<IngestPipeline>)>,
}

impl Actor for IngestSupervisor {
    type Context = Context<Self>;

    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        for (_, (_, pipeline)) in self.pipelines.drain() {
            pipeline.do_send(super::pipeline::ControlIngest {
                action: super::pipeline::IngestAction::Stop,
            });
        }
        Running::Stop
    }
}

impl Handler<EnsureIngest> for IngestSupervisor {
    type Result = ();

    fn handle(&mut self, msg: EnsureIngest, _: &mut Context<Self>) {
        let room = msg.spec.room_id.clone();
        if let Some((spec, pipeline)) = self.pipelines.get(&room) {
            if *spec == msg.spec && pipeline.connected() {
                return;
            }
            pipeline.do_send(super::pipeline::ControlIngest {
                action: super::pipeline::IngestAction::Stop,
            });
        }
        log::info!("room {room}: source {}", msg.spec.redacted);
        let pipeline = IngestPipeline::new(msg.spec.clone()).start();
        self.pipelines.insert(room, (msg.spec, pipeline));
    }
}

impl Handler<RemoveIngest> for IngestSupervisor {
    type Result = ();

    fn handle(&mut self, msg: RemoveIngest, _: &mut Context<Self>) {
        if let Some((_, pipeline)) = self.pipelines.remove(&msg.room_id) {
            log::info!("room {}: source removed", msg.room_id);
            pipeline.do_send(super::pipeline::ControlIngest {
                action: super::pipeline::IngestAction::Stop,
            });
        }
    }
}

impl Handler<FindIngest> for IngestSupervisor {
    type Result = Option<Addr<IngestPipeline>>;

    fn handle(&mut self, msg: FindIngest, _: &mut Context<Self>) -> Self::Result {
        self.pipelines.get(&msg.room_id).map(|(_, p)| p.clone())
    }
}
