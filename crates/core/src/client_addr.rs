//! The client's address behind trusted reverse proxies (`--trusted-proxies`): one rule for every
//! route that cares who is asking (a capture's sender address, login and sign-up limits).

use std::net::IpAddr;

use ipnet::IpNet;

/// The client's address: the peer itself, unless the peer is a trusted proxy; then the
/// rightmost `X-Forwarded-For` entry that is not itself a trusted proxy (entries further left
/// were written by whoever connected to the first proxy and can be anything). Unparseable
/// entries are skipped; with no usable entry the peer is the answer.
///
/// `forwarded_for` yields the raw values of every `X-Forwarded-For` header in arrival order.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a [u8]>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = forwarded_for
        .into_iter()
        .flat_map(|value| {
            String::from_utf8_lossy(value)
                .split(',')
                .filter_map(|s| s.trim().parse::<IpAddr>().ok())
                .collect::<Vec<_>>()
        })
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(forwarded.first())
        .copied()
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let xff: &[u8] = b"203.0.113.9, 10.0.0.2";
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            client_ip(ip("10.0.0.1"), [xff], &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(client_ip(ip("10.0.0.1"), [xff], &[]), ip("10.0.0.1"));
        assert_eq!(
            client_ip(ip("198.51.100.7"), [xff], &trusted),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_client_cannot_hide_behind_an_address_it_prepends_itself() {
        let trusted: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        // The client sent "X-Forwarded-For: 192.0.2.1"; the proxy appended the real address.
        let values: [&[u8]; 2] = [b"192.0.2.1", b"198.51.100.20"];
        assert_eq!(
            client_ip(ip("127.0.0.1"), values, &trusted),
            ip("198.51.100.20")
        );
    }

    #[test]
    fn a_trusted_proxy_without_a_usable_header_is_the_client() {
        let trusted: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        let garbage: &[u8] = b"unknown, not-an-ip";
        assert_eq!(
            client_ip(ip("127.0.0.1"), [garbage], &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), std::iter::empty(), &trusted),
            ip("127.0.0.1")
        );
    }
}
