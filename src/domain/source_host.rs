//! Where a live source may point. Link-local addresses (169.254.0.0/16, fe80::/10: where
//! clouds serve instance metadata and credentials) are always refused; with
//! `ingest.allow_private_sources = false`, loopback, private and shared ranges are refused
//! too. A host name is resolved and every address it has is judged.

use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};

use super::SourceUrl;

/// Judges the source's host (resolving names: blocking). `Err` says why, naming only the
/// host.
pub fn check(url: &SourceUrl, allow_private: bool) -> Result<(), String> {
    let Some((host, port)) = url.host_port() else {
        return Ok(()); // file: sources (tests only) have no host
    };
    let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|_| format!("the source's host {host} cannot be resolved"))?
            .map(|a| a.ip())
            .collect(),
    };
    for ip in addrs {
        match judge(ip, allow_private) {
            Ok(()) => {}
            Err(Refusal::LinkLocal) => {
                return Err(format!(
                    "the source's host {host} is a link-local address, which is never allowed"
                ))
            }
            Err(Refusal::Private) => {
                return Err(format!(
                    "the source's host {host} is a loopback or private address, which this \
                     server does not allow (ingest.allow_private_sources)"
                ))
            }
        }
    }
    Ok(())
}

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    LinkLocal,
    Private,
}

impl Refusal {
    /// A metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::LinkLocal => "link_local",
            Refusal::Private => "private",
        }
    }
}

/// Whether a live source may reach `ip` (IPv4-mapped addresses are judged as IPv4).
pub fn judge(ip: IpAddr, allow_private: bool) -> Result<(), Refusal> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    if is_link_local(ip) {
        return Err(Refusal::LinkLocal);
    }
    if !allow_private && is_private(ip) {
        return Err(Refusal::Private);
    }
    Ok(())
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || in_v4(v4, Ipv4Addr::new(100, 64, 0, 0), 10)
                || in_v4(v4, Ipv4Addr::new(0, 0, 0, 0), 8)
        }
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xfe00) == 0xfc00
        }
    }
}

fn in_v4(ip: Ipv4Addr, net: Ipv4Addr, bits: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> SourceUrl {
        SourceUrl::parse(s, false).unwrap()
    }

    #[test]
    fn link_local_hosts_are_refused_even_where_private_ones_are_allowed() {
        for s in [
            "http://169.254.169.254/latest/meta-data",
            "rtsp://[fe80::1]:554/x",
            "http://[::ffff:169.254.169.254]/",
        ] {
            assert!(check(&url(s), true).is_err(), "{s}");
        }
    }

    #[test]
    fn private_hosts_are_the_operators_choice() {
        for s in [
            "rtsp://127.0.0.1/x",
            "rtsp://10.1.2.3/x",
            "rtsp://192.168.1.20:554/x",
            "rtsp://172.20.0.1/x",
            "rtsp://100.64.1.1/x",
            "srt://[::1]:9000",
            "srt://[fd00::5]:9000",
            "http://localhost:8080/x",
        ] {
            assert!(check(&url(s), true).is_ok(), "{s}");
            assert!(check(&url(s), false).is_err(), "{s}");
        }
    }

    #[test]
    fn public_hosts_pass() {
        assert!(check(&url("rtmp://203.0.113.9/live/x"), false).is_ok());
    }
}
