//! `Egress`: the forward proxy that every HTTP(S) live source's ffmpeg goes through
//! (`-http_proxy`), so that the source rules hold for every connection ffmpeg makes, not
//! only for the URL an admin typed: a redirect, a playlist's segment on another host, a
//! name that now resolves elsewhere. Each request's host is resolved here and judged
//! (`domain::source_host`); a refused one gets `403` and is counted in
//! `roomcast_ingest_egress_refused_total{reason}`; an allowed one is connected to the very
//! address that was judged, so a name cannot change between the check and the connection.
//!
//! It speaks the two forms ffmpeg uses with a proxy: `CONNECT host:port` (for `https`,
//! then tunnelled) and an absolute-form `GET http://host/...`. It listens on loopback only.

use std::net::{IpAddr, SocketAddr};

use prometheus::{IntCounterVec, Opts, Registry};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::domain::source_host::{judge, Refusal};

/// Longest request head accepted from ffmpeg.
const MAX_HEAD: usize = 16 * 1024;

#[derive(Clone)]
pub struct Egress {
    addr: SocketAddr,
}

#[derive(Clone)]
struct Rules {
    allow_private: bool,
    refused: IntCounterVec,
}

impl Egress {
    /// Binds a loopback port and serves on the current runtime.
    pub async fn start(allow_private: bool, registry: &Registry) -> anyhow::Result<Self> {
        let refused = IntCounterVec::new(
            Opts::new(
                "roomcast_ingest_egress_refused_total",
                "Connections of live sources refused by the source rules, by reason",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(refused.clone()))?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let rules = Rules {
            allow_private,
            refused,
        };
        actix_web::rt::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((conn, _)) => {
                        let rules = rules.clone();
                        actix_web::rt::spawn(async move {
                            if let Err(e) = serve(conn, &rules).await {
                                log::debug!("ingest egress: {e}");
                            }
                        });
                    }
                    Err(e) => log::warn!("ingest egress: accepting: {e}"),
                }
            }
        });
        Ok(Self { addr })
    }

    /// The proxy URL to give ffmpeg.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// What the client asked for.
struct Target {
    host: String,
    port: u16,
    /// For a plain request: the head to send upstream (origin-form request line).
    forward: Option<Vec<u8>>,
}

async fn serve(mut client: TcpStream, rules: &Rules) -> anyhow::Result<()> {
    let (head_len, buf) = read_head(&mut client).await?;
    let target = match parse(&buf[..head_len]) {
        Ok(target) => target,
        Err(why) => {
            client
                .write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                .await?;
            anyhow::bail!("bad request: {why}");
        }
    };
    let upstream = match connect(&target, rules).await {
        Ok(upstream) => upstream,
        Err(why) => {
            log::warn!(
                "ingest egress: refused {}:{} ({why})",
                target.host,
                target.port
            );
            client
                .write_all(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await?;
            return Ok(());
        }
    };
    let mut upstream = upstream;
    match &target.forward {
        None => {
            client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await?
        }
        Some(head) => upstream.write_all(head).await?,
    }
    // Whatever followed the head (a request body, the TLS hello) goes on as it came.
    upstream.write_all(&buf[head_len..]).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// Reads until the end of the request head; returns its length and everything read.
async fn read_head(client: &mut TcpStream) -> anyhow::Result<(usize, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = client.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "the client left before its request ended");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok((end + 4, buf));
        }
        anyhow::ensure!(buf.len() <= MAX_HEAD, "request head over {MAX_HEAD} bytes");
    }
}

fn parse(head: &[u8]) -> Result<Target, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    req.parse(head).map_err(|e| e.to_string())?;
    let method = req.method.ok_or("no method")?;
    let path = req.path.ok_or("no target")?;
    if method == "CONNECT" {
        let (host, port) = split_host_port(path, 443)?;
        return Ok(Target {
            host,
            port,
            forward: None,
        });
    }
    let rest = path
        .strip_prefix("http://")
        .ok_or("only absolute http:// targets are proxied")?;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, origin) = rest.split_at(authority_end);
    if authority.contains('@') {
        return Err("credentials in the target".into());
    }
    let (host, port) = split_host_port(authority, 80)?;
    let origin = if origin.is_empty() { "/" } else { origin };
    // The head again with an origin-form request line; headers as they were.
    let line_end = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or("no line end")?;
    let version = if req.version == Some(0) {
        "HTTP/1.0"
    } else {
        "HTTP/1.1"
    };
    let mut forward = format!("{method} {origin} {version}").into_bytes();
    forward.extend_from_slice(&head[line_end..]);
    Ok(Target {
        host,
        port,
        forward: Some(forward),
    })
}

fn split_host_port(authority: &str, default: u16) -> Result<(String, u16), String> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (h, rest) = v6.split_once(']').ok_or("broken IPv6 address")?;
            (h, rest.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    let port = match port {
        Some(p) => p.parse().map_err(|_| "bad port")?,
        None => default,
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    Ok((host.to_string(), port))
}

/// Resolves the target, refuses it if any of its addresses is refused, and connects to
/// the first address that answers.
async fn connect(target: &Target, rules: &Rules) -> Result<TcpStream, String> {
    let addrs: Vec<SocketAddr> = match target.host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, target.port)],
        Err(_) => tokio::net::lookup_host((target.host.as_str(), target.port))
            .await
            .map_err(|_| {
                rules.refused.with_label_values(&["unresolvable"]).inc();
                "cannot be resolved".to_string()
            })?
            .collect(),
    };
    for addr in &addrs {
        if let Err(refusal) = judge(addr.ip(), rules.allow_private) {
            rules.refused.with_label_values(&[refusal.as_str()]).inc();
            return Err(match refusal {
                Refusal::LinkLocal => "a link-local address".into(),
                Refusal::Private => "a loopback or private address".into(),
            });
        }
    }
    let mut last = "no address".to_string();
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absolute_get_becomes_an_origin_form_request_for_its_host() {
        let head = b"GET http://cam.example:8080/live/index.m3u8?x=1 HTTP/1.1\r\nHost: cam.example:8080\r\n\r\n";
        let t = parse(head).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("cam.example", 8080));
        assert_eq!(
            String::from_utf8(t.forward.unwrap()).unwrap(),
            "GET /live/index.m3u8?x=1 HTTP/1.1\r\nHost: cam.example:8080\r\n\r\n"
        );
    }

    #[test]
    fn connect_names_a_host_and_port() {
        let t = parse(b"CONNECT [fe80::1]:443 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.forward.is_none()),
            ("fe80::1", 443, true)
        );
    }

    #[test]
    fn other_targets_are_not_proxied() {
        assert!(parse(b"GET /relative HTTP/1.1\r\n\r\n").is_err());
        assert!(parse(b"GET ftp://h/x HTTP/1.1\r\n\r\n").is_err());
    }
}
