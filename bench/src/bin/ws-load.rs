//! WebSocket load client for the danmaku fan-out benchmark (B2). One thread, many sockets.
//!
//! Every socket reads and counts frames and the messages in them (occurrences of the
//! `bench:` marker, so merged batches and one-message frames are counted alike) without
//! parsing JSON. Senders stamp the send time into each message; receivers on a sample of
//! sockets turn the first stamp of each frame into a latency sample.
//!
//! Usage: ws-load --url URL[,URL...] --conns N --senders S --rate MSGS_PER_S
//!   --secs D [--token T] [--slow-pct P] [--churn J] [--idle] [--pid PID[,PID...]]
//!   [--compress] [--realistic]
//! `--compress`: viewers ask for compressed frames (`?compress=deflate`); a binary frame is
//! inflated (flate2) to count its messages. Every compressed viewer gets the same bytes for
//! a batch, so each distinct frame is inflated once and its count reused (by a hash of its
//! bytes), which keeps the one-thread client from becoming the bottleneck.
//! `--realistic`: messages carry mixed Chinese and English text, every one different
//! (`roomcast_bench::text`), instead of a repeated filler; bytes received per delivered
//! message are reported either way.
//! With several URLs (rooms, or one room on several nodes), connection i uses URL i mod n,
//! senders included; sampled viewers then also report latency by whether the message came
//! through their own node (URL) or another.
//! Prints one JSON line with the totals; with `--pid`, also the server's CPU seconds over
//! the measured period and its resident memory before and after connecting.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

#[derive(Default)]
struct Totals {
    frames: u64,
    messages: u64,
    /// Payload bytes received (as sent: compressed frames compressed).
    bytes: u64,
    /// Compressed frames already inflated.
    inflated: Inflated,
    latencies_us: Vec<u64>,
    /// With several URLs (nodes): every sampled message's latency, by whether it was sent
    /// through the viewer's own node or another one.
    same_node_us: Vec<u64>,
    cross_node_us: Vec<u64>,
    connect_errors: u64,
    closed: u64,
}

struct Args {
    urls: Vec<String>,
    conns: usize,
    senders: usize,
    rate: u64,
    secs: u64,
    token: Option<String>,
    slow_pct: usize,
    churn: u64,
    idle: bool,
    /// The server processes (one per node) whose CPU and memory are summed.
    pids: Vec<u32>,
    compress: bool,
    realistic: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        urls: Vec::new(),
        conns: 100,
        senders: 1,
        rate: 100,
        secs: 5,
        token: None,
        slow_pct: 0,
        churn: 0,
        idle: false,
        pids: Vec::new(),
        compress: false,
        realistic: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.urls = val().split(',').map(str::to_string).collect(),
            "--conns" => a.conns = val().parse().unwrap(),
            "--senders" => a.senders = val().parse().unwrap(),
            "--rate" => a.rate = val().parse().unwrap(),
            "--secs" => a.secs = val().parse().unwrap(),
            "--token" => a.token = Some(val()),
            "--slow-pct" => a.slow_pct = val().parse().unwrap(),
            "--churn" => a.churn = val().parse().unwrap(),
            "--idle" => a.idle = true,
            "--pid" => a.pids = val().split(',').map(|p| p.parse().unwrap()).collect(),
            "--compress" => a.compress = true,
            "--realistic" => a.realistic = true,
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(!a.urls.is_empty(), "--url is required");
    if a.compress {
        for url in &mut a.urls {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str("compress=deflate");
        }
    }
    a
}

/// Inflated compressed frames by a hash of their bytes: every compressed viewer gets the
/// same bytes for a batch, so each is inflated once.
#[derive(Default)]
struct Inflated(HashMap<u64, Rc<str>>);

impl Inflated {
    fn text(&mut self, bytes: &[u8]) -> Rc<str> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        let key = h.finish();
        if self.0.len() > 4096 {
            self.0.clear();
        }
        Rc::clone(self.0.entry(key).or_insert_with(|| {
            let mut text = String::new();
            flate2::read::DeflateDecoder::new(bytes)
                .read_to_string(&mut text)
                .expect("a compressed frame is raw DEFLATE of UTF-8");
            text.into()
        }))
    }
}

/// User + system CPU seconds of the processes.
fn cpu_secs(pids: &[u32]) -> f64 {
    pids.iter().map(|&p| cpu_secs_of(p)).sum()
}

fn cpu_secs_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of /proc/PID/stat (utime, stime), counted after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Resident memory of the processes in KiB.
fn rss_kb(pids: &[u32]) -> u64 {
    pids.iter().map(|&p| rss_kb_of(p)).sum()
}

fn rss_kb_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn connect(url: &str, token: Option<&str>) -> Option<Socket> {
    let mut req = url.into_client_request().ok()?;
    if let Some(t) = token {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().ok()?);
    }
    let host = req.uri().authority()?.as_str().to_string();
    let tcp = tokio::net::TcpStream::connect(host).await.ok()?;
    tcp.set_nodelay(true).ok()?;
    let (ws, _) = tokio_tungstenite::client_async(req, tcp).await.ok()?;
    Some(ws)
}

/// Counts `bench:` markers; returns (count, first stamp).
fn scan(text: &str) -> (u64, Option<u128>) {
    let mut count = 0;
    let mut first = None;
    let mut rest = text;
    while let Some(pos) = rest.find("bench:") {
        count += 1;
        let after = &rest[pos + 6..];
        if first.is_none() {
            let digits = after
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap_or("");
            first = digits.parse().ok();
        }
        rest = after;
    }
    (count, first)
}

/// Every `bench:{ns}:n{node}:` stamp in a frame.
fn stamps(text: &str) -> impl Iterator<Item = (u128, usize)> + '_ {
    text.split("bench:").skip(1).filter_map(|s| {
        let mut parts = s.split(':');
        let sent = parts.next()?.parse().ok()?;
        let node = parts.next()?.strip_prefix('n')?.parse().ok()?;
        Some((sent, node))
    })
}

/// Reads a socket until it closes or `stop`; a slow socket never reads at all. A sampled
/// socket on node `node` (of several) also sorts each message's latency by sender's node.
async fn read_loop(
    mut ws: futures_util::stream::SplitStream<Socket>,
    totals: Rc<RefCell<Totals>>,
    sample: bool,
    node: Option<usize>,
    stop: Rc<tokio::sync::Notify>,
) {
    loop {
        tokio::select! {
            msg = ws.next() => {
                let (text, len): (Rc<str>, usize) = match msg {
                    Some(Ok(Message::Text(text))) => (text.as_str().into(), text.len()),
                    Some(Ok(Message::Binary(bytes))) => {
                        (totals.borrow_mut().inflated.text(&bytes), bytes.len())
                    }
                    Some(Ok(_)) => continue,
                    _ => {
                        totals.borrow_mut().closed += 1;
                        return;
                    }
                };
                // A hello's history is what was sent before this socket joined: not counted.
                if text.starts_with(r#"{"type":"hello""#) {
                    continue;
                }
                let (n, stamp) = scan(&text);
                let mut t = totals.borrow_mut();
                t.frames += 1;
                t.messages += n;
                t.bytes += len as u64;
                if let (true, Some(sent)) = (sample, stamp) {
                    let now = now_ns();
                    let lat = now.saturating_sub(sent) / 1000;
                    if t.latencies_us.len() < 2_000_000 {
                        t.latencies_us.push(lat as u64);
                    }
                    if let Some(me) = node {
                        for (sent, from) in stamps(&text) {
                            let lat = (now.saturating_sub(sent) / 1000) as u64;
                            let bucket = if from == me {
                                &mut t.same_node_us
                            } else {
                                &mut t.cross_node_us
                            };
                            if bucket.len() < 2_000_000 {
                                bucket.push(lat);
                            }
                        }
                    }
                }
            }
            _ = stop.notified() => return,
        }
    }
}

async fn open_viewer(
    url: &str,
    token: Option<&str>,
    slow: bool,
    sample: bool,
    node: Option<usize>,
    totals: &Rc<RefCell<Totals>>,
    stop: &Rc<tokio::sync::Notify>,
) -> Option<futures_util::stream::SplitSink<Socket, Message>> {
    let Some(ws) = connect(url, token).await else {
        totals.borrow_mut().connect_errors += 1;
        return None;
    };
    let (sink, stream) = ws.split();
    if slow {
        // Keep the socket open and never read it.
        std::mem::forget(stream);
    } else {
        tokio::task::spawn_local(read_loop(
            stream,
            Rc::clone(totals),
            sample,
            node,
            Rc::clone(stop),
        ));
    }
    Some(sink)
}

fn main() {
    let args = parse_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, run(args));
}

async fn run(args: Args) {
    let totals = Rc::new(RefCell::new(Totals::default()));
    let stop = Rc::new(tokio::sync::Notify::new());
    let slow_every = 100usize.checked_div(args.slow_pct).unwrap_or(usize::MAX);
    let mut sinks = Vec::with_capacity(args.conns);
    let rss_before = rss_kb(&args.pids);
    let nodes = args.urls.len();
    let node_of = |i: usize| (nodes > 1).then_some(i % nodes);
    let connect_started = Instant::now();
    for chunk_start in (0..args.conns).step_by(250) {
        let end = (chunk_start + 250).min(args.conns);
        let opened = futures_util::future::join_all((chunk_start..end).map(|i| {
            let url = &args.urls[i % args.urls.len()];
            let slow = i >= args.senders && i % slow_every == slow_every - 1;
            let token = if i < args.senders {
                args.token.as_deref()
            } else {
                None
            };
            let sample = i < 200;
            open_viewer(url, token, slow, sample, node_of(i), &totals, &stop)
        }))
        .await;
        sinks.extend(opened);
    }
    let connect_secs = connect_started.elapsed().as_secs_f64();
    if args.idle {
        // Let the joins settle, then read the server's memory with every socket open.
        tokio::time::sleep(Duration::from_secs(args.secs)).await;
        let server = Server {
            cpu_secs: 0.0,
            client_cpu_secs: 0.0,
            rss_before_kb: rss_before,
            rss_after_kb: rss_kb(&args.pids),
        };
        report(
            &args,
            &totals.borrow(),
            args.secs as f64,
            connect_secs,
            &server,
        );
        return;
    }
    // Warm-up: let joins settle before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;
    {
        let mut t = totals.borrow_mut();
        t.frames = 0;
        t.messages = 0;
        t.bytes = 0;
        t.latencies_us.clear();
        t.same_node_us.clear();
        t.cross_node_us.clear();
    }
    let started = Instant::now();
    let cpu_start = cpu_secs(&args.pids);
    let client_cpu_start = cpu_secs_of(std::process::id());
    let deadline = started + Duration::from_secs(args.secs);
    // Each sender with the index of its node (its connection's URL).
    let mut senders: Vec<_> = sinks
        .drain(..args.senders.min(sinks.len()))
        .enumerate()
        .filter_map(|(i, s)| Some((s?, i % nodes)))
        .collect();
    let interval = Duration::from_nanos(1_000_000_000 / args.rate.max(1));
    let mut next_send = Instant::now();
    let mut next_churn = Instant::now();
    let churn_every = 1_000_000_000u64
        .checked_div(args.churn)
        .map(Duration::from_nanos);
    let mut churn_i = 0usize;
    let cjk: Vec<char> = roomcast_bench::text::CJK.chars().collect();
    let mut rng = roomcast_bench::text::Rng(0x5eed_0bad_cafe_f00d);
    let mut sent = 0u64;
    while Instant::now() < deadline {
        let now = Instant::now();
        // Send everything that is due (a busy client catches up in bursts).
        while next_send <= now && !senders.is_empty() {
            let idx = (sent as usize) % senders.len();
            let body = if args.realistic {
                roomcast_bench::text::message(&mut rng, &cjk)
            } else {
                "m".repeat(36)
            };
            let text = format!("bench:{}:n{}:{body}", now_ns(), senders[idx].1);
            let frame = serde_json::json!({ "type": "send", "text": text }).to_string();
            if senders[idx]
                .0
                .send(Message::Text(frame.into()))
                .await
                .is_err()
            {
                drop(senders.swap_remove(idx));
            }
            sent += 1;
            next_send += interval;
        }
        if let Some(every) = churn_every {
            while next_churn <= now {
                // One leave and one join: drop a viewer's sink (closing it) and open another.
                if !sinks.is_empty() {
                    let i = churn_i % sinks.len();
                    if let Some(mut s) = sinks[i].take() {
                        let _ = s.close().await;
                    }
                    let url = &args.urls[churn_i % args.urls.len()];
                    sinks[i] = open_viewer(url, None, false, false, None, &totals, &stop).await;
                    churn_i += 1;
                }
                next_churn += every;
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let server = Server {
        cpu_secs: cpu_secs(&args.pids) - cpu_start,
        client_cpu_secs: cpu_secs_of(std::process::id()) - client_cpu_start,
        rss_before_kb: rss_before,
        rss_after_kb: rss_kb(&args.pids),
    };
    stop.notify_waiters();
    let mut t = totals.borrow_mut();
    eprintln!("sent {sent} messages");
    t.latencies_us.sort_unstable();
    t.same_node_us.sort_unstable();
    t.cross_node_us.sort_unstable();
    report(&args, &t, secs, connect_secs, &server);
}

struct Server {
    cpu_secs: f64,
    /// This client's own CPU over the measured period: near `secs`, the client is the
    /// bottleneck, not the server.
    client_cpu_secs: f64,
    rss_before_kb: u64,
    rss_after_kb: u64,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx] as f64 / 1000.0
}

fn report(args: &Args, t: &Totals, secs: f64, connect_secs: f64, server: &Server) {
    let per_cpu = |n: u64| {
        if server.cpu_secs > 0.0 {
            n as f64 / server.cpu_secs
        } else {
            0.0
        }
    };
    let line = serde_json::json!({
        "server_cpu_secs": server.cpu_secs,
        "client_cpu_secs": server.client_cpu_secs,
        "messages_per_cpu_s": per_cpu(t.messages),
        "frames_per_cpu_s": per_cpu(t.frames),
        "rss_before_kb": server.rss_before_kb,
        "rss_after_kb": server.rss_after_kb,
        "kb_per_conn": (server.rss_after_kb as f64 - server.rss_before_kb as f64) / args.conns as f64,
        "conns": args.conns,
        "secs": secs,
        "connect_secs": connect_secs,
        "frames": t.frames,
        "messages": t.messages,
        "bytes": t.bytes,
        "bytes_per_message": if t.messages > 0 { t.bytes as f64 / t.messages as f64 } else { 0.0 },
        "compressed": args.compress,
        "realistic": args.realistic,
        "frames_per_s": t.frames as f64 / secs,
        "messages_per_s": t.messages as f64 / secs,
        "p50_ms": percentile(&t.latencies_us, 0.50),
        "p99_ms": percentile(&t.latencies_us, 0.99),
        "same_node_p50_ms": percentile(&t.same_node_us, 0.50),
        "same_node_p99_ms": percentile(&t.same_node_us, 0.99),
        "cross_node_p50_ms": percentile(&t.cross_node_us, 0.50),
        "cross_node_p99_ms": percentile(&t.cross_node_us, 0.99),
        "cross_node_samples": t.cross_node_us.len(),
        "connect_errors": t.connect_errors,
        "closed": t.closed,
    });
    println!("{line}");
}
