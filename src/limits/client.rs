//! The client's address, for throttles and per-address caps.
//!
//! It is the TCP peer, unless that peer is one of `http.trusted_proxies`: then it is the
//! nearest address in `X-Forwarded-For` that is not itself a trusted proxy (the header's
//! left part is written by the client and cannot be believed).

use std::net::IpAddr;

use actix_web::HttpRequest;

/// Resolves client addresses with the configured proxies.
#[derive(Clone, Default)]
pub struct ClientAddrs {
    trusted: Vec<IpAddr>,
}

impl ClientAddrs {
    pub fn new(trusted: Vec<IpAddr>) -> Self {
        Self {
            trusted: trusted.into_iter().map(canonical).collect(),
        }
    }

    /// The client of `req`, or `None` when the peer is unknown (not a TCP connection).
    pub fn of(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = canonical(req.peer_addr()?.ip());
        if !self.trusted.contains(&peer) {
            return Some(peer);
        }
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        Some(self.walk_forwarded(peer, &forwarded))
    }

    /// Walks `X-Forwarded-For` from the right (the hop nearest to us) past trusted proxies.
    fn walk_forwarded(&self, peer: IpAddr, header: &str) -> IpAddr {
        let mut client = peer;
        for hop in header.rsplit(',').map(str::trim).filter(|h| !h.is_empty()) {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                // Garbage in the chain: stop at the last address we could trust.
                break;
            };
            client = canonical(ip);
            if !self.trusted.contains(&client) {
                break;
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 addresses as plain IPv4, so one client has one key.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_header_is_believed_only_up_to_the_first_untrusted_hop() {
        let addrs = ClientAddrs::new(vec![ip("10.0.0.1"), ip("10.0.0.2")]);
        let got = addrs.walk_forwarded(ip("10.0.0.1"), "6.6.6.6, 203.0.113.7, 10.0.0.2");
        assert_eq!(got, ip("203.0.113.7"));
    }

    #[test]
    fn a_missing_or_broken_header_leaves_the_proxy_as_the_client() {
        let addrs = ClientAddrs::new(vec![ip("10.0.0.1")]);
        assert_eq!(addrs.walk_forwarded(ip("10.0.0.1"), ""), ip("10.0.0.1"));
        assert_eq!(
            addrs.walk_forwarded(ip("10.0.0.1"), "1.2.3.4, not-an-ip"),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn mapped_ipv6_addresses_are_their_ipv4_selves() {
        assert_eq!(canonical(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }
}
