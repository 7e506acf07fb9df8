//! One publisher's connection: the RTMP handshake, then `rml_rtmp`'s server session fed
//! with the socket's bytes. `connect` must name the `live` application; `publish` must name
//! a room's stream key, and the room must have no other publisher. The audio and video that
//! follow become FLV tags; they are held until the first tags name the codecs, then go to
//! the room's pipeline as one stream. A publisher silent for `idle_after`, a malformed
//! chunk or AMF value, or a cut-off from the pipeline ends this connection only.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Addr;
use bytes::{Bytes, BytesMut};
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};

use super::flv::{self, TagKind};
use super::{Refused, RtmpContext, APP};
use crate::ingest::pipeline::{
    AttachPublisher, DetachPublisher, IngestPipeline, PushRefused, ReportPublisher, StartFeed,
};
use crate::ingest::rate::ByteRate;
use crate::ingest::status::{PublishedAudio, PublishedVideo, PublisherInfo};
use crate::ingest::supervisor::EnsurePushed;

static NEXT_PUBLISHER: AtomicU64 = AtomicU64::new(1);

/// Tags held before the stream starts, at most; and how long to wait for the second codec.
const MAX_HELD_TAGS: usize = 512;
const CODEC_WAIT: Duration = Duration::from_secs(1);
/// FLV tags waiting for ffmpeg's stdin; a full queue slows the publisher down.
const FEED_QUEUE: usize = 256;
/// How often the pipeline hears what is known of the publisher.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Why a connection ended.
#[derive(Debug)]
enum End {
    /// The publisher finished, left, went silent, or was cut off.
    Closed,
    Refused(Refused),
}

impl From<std::io::Error> for End {
    fn from(_: std::io::Error) -> Self {
        End::Closed
    }
}

/// Serves one connection until it ends.
pub async fn serve<S>(mut io: S, peer: SocketAddr, ctx: Arc<RtmpContext>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = Connection {
        id: NEXT_PUBLISHER.fetch_add(1, Ordering::Relaxed),
        ctx,
        peer,
        publishing: None,
    };
    match conn.run(&mut io).await {
        Err(End::Refused(reason)) => {
            log::info!("rtmp {peer}: publish refused ({})", reason.label());
            conn.ctx
                .metrics
                .refused
                .with_label_values(&[reason.label()])
                .inc();
        }
        Ok(()) | Err(End::Closed) => {}
    }
    if let Some(p) = conn.publishing.take() {
        log::info!("rtmp {peer}: publisher gone");
        p.pipeline.do_send(DetachPublisher { publisher: conn.id });
        conn.ctx.metrics.publishers.dec();
        conn.release(p.room).await;
    }
    let _ = io.shutdown().await;
}

struct Connection {
    id: u64,
    ctx: Arc<RtmpContext>,
    peer: SocketAddr,
    publishing: Option<Publishing>,
}

/// A publish that was let in.
struct Publishing {
    room: String,
    pipeline: Addr<IngestPipeline>,
    cut_off: Arc<Notify>,
    stream: Stream,
    info: PublisherInfo,
    rate: ByteRate,
    reported: Option<Instant>,
}

impl Publishing {
    /// Tells the pipeline what is known of the publisher, at most every `REPORT_EVERY`
    /// unless `now` is asked.
    fn report(&mut self, id: u64, at_once: bool) {
        if !at_once && self.reported.is_some_and(|t| t.elapsed() < REPORT_EVERY) {
            return;
        }
        self.reported = Some(Instant::now());
        self.info.kbps = self.rate.kbps();
        self.pipeline.do_send(ReportPublisher {
            publisher: id,
            info: self.info.clone(),
        });
    }
}

enum Stream {
    /// Tags held until the codecs are known.
    Holding {
        tags: Vec<Bytes>,
        video: Option<&'static str>,
        audio: Option<&'static str>,
        since: Instant,
    },
    /// The pipeline reads the stream; `pending` holds the tags of the bytes read last, sent
    /// as one piece (one wake-up and one pipe write for them all, not one per tag).
    Flowing {
        feed: mpsc::Sender<Bytes>,
        pending: BytesMut,
    },
}

impl Connection {
    async fn run<S>(&mut self, io: &mut S) -> Result<(), End>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut buf = vec![0u8; 64 * 1024];
        let mut handshake = Handshake::new(PeerType::Server);
        let mut input = loop {
            let n = self.read(io, &mut buf).await?;
            match handshake.process_bytes(&buf[..n]) {
                Ok(HandshakeProcessResult::InProgress { response_bytes }) => {
                    io.write_all(&response_bytes).await?
                }
                Ok(HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                }) => {
                    io.write_all(&response_bytes).await?;
                    break remaining_bytes;
                }
                Err(_) => return Err(End::Refused(Refused::Malformed)),
            }
        };
        let (mut session, first) = ServerSession::new(ServerSessionConfig::new())
            .map_err(|_| End::Refused(Refused::Malformed))?;
        self.answer(io, &mut session, first).await?;
        loop {
            if !input.is_empty() {
                let results = session
                    .handle_input(&input)
                    .map_err(|_| End::Refused(Refused::Malformed))?;
                self.answer(io, &mut session, results).await?;
                self.flush().await?;
            }
            let n = self.read(io, &mut buf).await?;
            input = buf[..n].to_vec();
        }
    }

    /// The next bytes: `Closed` on the end of the stream, after `idle_after` of silence,
    /// or when the pipeline cuts the publisher off.
    async fn read<S>(&self, io: &mut S, buf: &mut [u8]) -> Result<usize, End>
    where
        S: AsyncRead + Unpin,
    {
        let cut_off = self.publishing.as_ref().map(|p| Arc::clone(&p.cut_off));
        let read = tokio::time::timeout(self.ctx.idle_after, io.read(buf));
        let n = match cut_off {
            Some(cut_off) => tokio::select! {
                n = read => n,
                _ = cut_off.notified() => return Err(End::Closed),
            },
            None => read.await,
        };
        match n {
            Ok(Ok(n)) if n > 0 => {
                self.ctx.metrics.bytes_in.inc_by(n as u64);
                Ok(n)
            }
            _ => Err(End::Closed),
        }
    }

    /// Sends the session's packets and acts on its events (which may make more packets).
    async fn answer<S>(
        &mut self,
        io: &mut S,
        session: &mut ServerSession,
        results: Vec<ServerSessionResult>,
    ) -> Result<(), End>
    where
        S: AsyncWrite + Unpin,
    {
        let mut queue: VecDeque<ServerSessionResult> = results.into();
        while let Some(result) = queue.pop_front() {
            match result {
                ServerSessionResult::OutboundResponse(packet) => {
                    io.write_all(&packet.bytes).await?
                }
                ServerSessionResult::RaisedEvent(event) => {
                    let more = self.on_event(io, session, event).await?;
                    queue.extend(more);
                }
                ServerSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
        Ok(())
    }

    async fn on_event<S>(
        &mut self,
        io: &mut S,
        session: &mut ServerSession,
        event: ServerSessionEvent,
    ) -> Result<Vec<ServerSessionResult>, End>
    where
        S: AsyncWrite + Unpin,
    {
        let malformed = |_| End::Refused(Refused::Malformed);
        match event {
            ServerSessionEvent::ConnectionRequested {
                request_id,
                app_name,
            } => {
                if app_name == APP {
                    return session.accept_request(request_id).map_err(malformed);
                }
                let no = "NetConnection.Connect.Rejected";
                self.refuse(io, session, request_id, no, Refused::WrongApp)
                    .await
            }
            ServerSessionEvent::PublishStreamRequested {
                request_id,
                stream_key,
                ..
            } => match self.open(&stream_key).await {
                Ok(()) => session.accept_request(request_id).map_err(malformed),
                Err(reason) => {
                    let no = "NetStream.Publish.BadName";
                    self.refuse(io, session, request_id, no, reason).await
                }
            },
            ServerSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } => {
                self.media(TagKind::Video, data, timestamp.value).await?;
                Ok(Vec::new())
            }
            ServerSessionEvent::AudioDataReceived {
                data, timestamp, ..
            } => {
                self.media(TagKind::Audio, data, timestamp.value).await?;
                Ok(Vec::new())
            }
            ServerSessionEvent::StreamMetadataChanged { metadata, .. } => {
                if let Some(p) = self.publishing.as_mut() {
                    let video = p.info.video.get_or_insert_with(PublishedVideo::default);
                    video.width = metadata.video_width.or(video.width);
                    video.height = metadata.video_height.or(video.height);
                    video.fps = metadata.video_frame_rate.or(video.fps);
                    p.report(self.id, true);
                }
                Ok(Vec::new())
            }
            ServerSessionEvent::PublishStreamFinished { .. } => Err(End::Closed),
            _ => Ok(Vec::new()),
        }
    }

    /// Tells the client no (so encoders show why), then ends the connection.
    async fn refuse<S>(
        &mut self,
        io: &mut S,
        session: &mut ServerSession,
        request_id: u32,
        code: &str,
        reason: Refused,
    ) -> Result<Vec<ServerSessionResult>, End>
    where
        S: AsyncWrite + Unpin,
    {
        let description = match reason {
            Refused::WrongApp => "the application must be \"live\"",
            Refused::WrongKey => "no room has this stream key",
            Refused::Busy => "another publisher is live in this room",
            Refused::PullSource => "this room plays a pulled source",
            Refused::Unavailable => "the server cannot check the key just now",
            Refused::Malformed => "malformed",
        };
        if let Ok(results) = session.reject_request(request_id, code, description) {
            for result in results {
                if let ServerSessionResult::OutboundResponse(packet) = result {
                    io.write_all(&packet.bytes).await?;
                }
            }
        }
        Err(End::Refused(reason))
    }

    /// Decides a publish: the key's room, its pipeline, and no other publisher.
    async fn open(&mut self, stream_key: &str) -> Result<(), Refused> {
        if self.publishing.is_some() {
            return Err(Refused::Busy);
        }
        let ctx = Arc::clone(&self.ctx);
        let key = stream_key.to_string();
        let spec = match tokio::task::spawn_blocking(move || ctx.gate.open(&key)).await {
            Ok(Ok(decided)) => decided?,
            Ok(Err(e)) => {
                log::warn!("rtmp: checking a stream key: {e}");
                return Err(Refused::Unavailable);
            }
            Err(_) => return Err(Refused::Unavailable),
        };
        let room = spec.room_id.clone();
        let pipeline = self
            .ctx
            .ingest
            .send(EnsurePushed { spec })
            .await
            .map_err(|_| Refused::Unavailable)?;
        let cut_off = Arc::new(Notify::new());
        let attached = pipeline
            .send(AttachPublisher {
                publisher: self.id,
                cut_off: Arc::clone(&cut_off),
            })
            .await
            .map_err(|_| Refused::Unavailable)?;
        match attached {
            Ok(()) => {}
            Err(PushRefused::Busy) => return Err(Refused::Busy),
            Err(PushRefused::PullSource) => return Err(Refused::PullSource),
        }
        // Alone on this node now; among nodes, the room's lease decides.
        if let Err(reason) = self.hold(&room).await {
            pipeline.do_send(DetachPublisher { publisher: self.id });
            return Err(reason);
        }
        self.ctx.metrics.publishers.inc();
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut publishing = Publishing {
            room,
            pipeline,
            cut_off,
            stream: Stream::Holding {
                tags: vec![Bytes::from_static(&flv::HEADER)],
                video: None,
                audio: None,
                since: Instant::now(),
            },
            info: PublisherInfo {
                since,
                remote: self.peer.to_string(),
                ..PublisherInfo::default()
            },
            rate: ByteRate::default(),
            reported: None,
        };
        publishing.report(self.id, true);
        self.publishing = Some(publishing);
        Ok(())
    }

    /// Takes the room's lease for this connection: `Busy` while another node's publisher
    /// has it.
    async fn hold(&self, room: &str) -> Result<(), Refused> {
        let (ctx, room, id) = (Arc::clone(&self.ctx), room.to_string(), self.id);
        match tokio::task::spawn_blocking(move || ctx.gate.hold(&room, id)).await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(Refused::Busy),
            Ok(Err(e)) => {
                log::warn!("rtmp: taking a room's lease: {e}");
                Err(Refused::Unavailable)
            }
            Err(_) => Err(Refused::Unavailable),
        }
    }

    /// Gives the room's lease up (the publisher left).
    async fn release(&self, room: String) {
        let (ctx, id) = (Arc::clone(&self.ctx), self.id);
        let released = tokio::task::spawn_blocking(move || {
            let outcome = ctx.gate.release(&room, id);
            (room, outcome)
        })
        .await;
        if let Ok((room, Err(e))) = released {
            // It expires on its own after a lease.
            log::warn!("room {room}: releasing the publisher's lease: {e}");
        }
    }

    /// Hands the tags of the last read to the pipeline.
    async fn flush(&mut self) -> Result<(), End> {
        let Some(Publishing {
            stream: Stream::Flowing { feed, pending },
            ..
        }) = self.publishing.as_mut()
        else {
            return Ok(());
        };
        if pending.is_empty() {
            return Ok(());
        }
        let tags = pending.split().freeze();
        feed.send(tags).await.map_err(|_| End::Closed)
    }

    /// One audio or video message of the published stream.
    async fn media(&mut self, kind: TagKind, data: Bytes, at_ms: u32) -> Result<(), End> {
        let Some(p) = self.publishing.as_mut() else {
            return Ok(());
        };
        p.rate.add(Instant::now(), data.len());
        let codec_unknown = match kind {
            TagKind::Video => p.info.video.as_ref().is_none_or(|v| v.codec.is_empty()),
            TagKind::Audio => p.info.audio.is_none(),
        };
        if codec_unknown {
            match kind {
                TagKind::Video => {
                    let video = p.info.video.get_or_insert_with(PublishedVideo::default);
                    video.codec = flv::video_codec(&data).unwrap_or("unknown").to_string();
                }
                TagKind::Audio => {
                    p.info.audio = Some(PublishedAudio {
                        codec: flv::audio_codec(&data).unwrap_or("unknown").to_string(),
                    })
                }
            }
        }
        p.report(self.id, codec_unknown);
        let start = match &mut p.stream {
            Stream::Flowing { pending, .. } => {
                flv::put_tag(pending, kind, at_ms, &data);
                return Ok(());
            }
            Stream::Holding {
                tags,
                video,
                audio,
                since,
            } => {
                match kind {
                    TagKind::Video if video.is_none() => *video = flv::video_codec(&data),
                    TagKind::Audio if audio.is_none() => *audio = flv::audio_codec(&data),
                    _ => {}
                }
                tags.push(flv::tag(kind, at_ms, &data));
                let both = video.is_some() && audio.is_some();
                let waited = since.elapsed() >= CODEC_WAIT && video.is_some();
                if both || waited || tags.len() >= MAX_HELD_TAGS {
                    Some((std::mem::take(tags), *video, *audio))
                } else {
                    None
                }
            }
        };
        if let Some((held, video, audio)) = start {
            let (feed, rx) = mpsc::channel(FEED_QUEUE);
            p.pipeline.do_send(StartFeed {
                publisher: self.id,
                feed: rx,
                video: video.map(str::to_string),
                audio: audio.map(str::to_string),
            });
            for tag in held {
                feed.send(tag).await.map_err(|_| End::Closed)?;
            }
            p.stream = Stream::Flowing {
                feed,
                pending: BytesMut::new(),
            };
        }
        Ok(())
    }
}
