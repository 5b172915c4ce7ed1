//! Address classification (R6): which resolved addresses a replay may reach.

use super::*;

pub(super) fn in_v4(ip: Ipv4Addr, net: [u8; 4], len: u32) -> bool {
    let ip = u32::from(ip);
    let net = u32::from(Ipv4Addr::from(net));
    len == 0 || (ip ^ net) >> (32 - len) == 0
}

pub(super) fn in_v6(ip: Ipv6Addr, net: [u16; 8], len: u32) -> bool {
    let ip = u128::from(ip);
    let [a, b, c, d, e, f, g, h] = net;
    let net = u128::from(Ipv6Addr::new(a, b, c, d, e, f, g, h));
    len == 0 || (ip ^ net) >> (128 - len) == 0
}

pub(super) fn classify_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 8, "unspecified"),
        ([10, 0, 0, 0], 8, "private"),
        ([100, 64, 0, 0], 10, "CGNAT"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([169, 254, 0, 0], 16, "link-local"),
        ([172, 16, 0, 0], 12, "private"),
        ([192, 0, 0, 0], 24, "reserved"),
        ([192, 0, 2, 0], 24, "documentation"),
        ([192, 88, 99, 0], 24, "6to4"),
        ([192, 168, 0, 0], 16, "private"),
        ([198, 18, 0, 0], 15, "reserved"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([240, 0, 0, 0], 4, "reserved"),
    ];
    RANGES
        .iter()
        .find(|(net, len, _)| in_v4(ip, *net, *len))
        .map(|(_, _, word)| *word)
}

pub(super) fn classify_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4).map(|_| "IPv4-mapped private");
    }
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // Blocked ranges that need a specific word; anything else outside 2000::/3 is "reserved".
    const RANGES: &[([u16; 8], u32, &str)] = &[
        ([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, "NAT64"),
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "NAT64"),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "private"),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "Teredo"),
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation"),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, "reserved"),
        ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4"),
    ];
    if let Some((_, _, word)) = RANGES.iter().find(|(net, len, _)| in_v6(ip, *net, *len)) {
        return Some(word);
    }
    if !in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        return Some("reserved");
    }
    None
}

/// A short word for why an address is not public: "loopback", "private", "link-local",
/// "CGNAT", "multicast", "unspecified", "reserved", "IPv4-mapped private", "NAT64", "6to4",
/// "Teredo", "documentation". `None` means the address is public (see [`is_public`]).
pub fn classify(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// True when `ip` is a public unicast address (spec R6). After unwrapping IPv4-mapped
/// (`::ffff:0:0/96`), IPv4 is allowed only outside 0/8, 10/8, 100.64/10, 127/8, 169.254/16,
/// 172.16/12, 192.0.0/24, 192.0.2/24, 192.88.99/24, 192.168/16, 198.18/15, 198.51.100/24,
/// 203.0.113/24, 224/4 and 240/4; IPv6 only inside 2000::/3 and outside 2001::/23 (which covers
/// Teredo 2001::/32), 2001:db8::/32, 2002::/16 and 3fff::/20 — which also blocks ::1, ::,
/// ::/96, 64:ff9b::/96, 64:ff9b:1::/48, fc00::/7, fe80::/10 and ff00::/8.
pub fn is_public(ip: IpAddr) -> bool {
    classify(ip).is_none()
}

/// The IPv4 address an IPv6 address carries, if it is one of the forms that reach an IPv4
/// host: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64
/// (`64:ff9b::a.b.c.d`), 6to4 (`2002:AABB:CCDD::/48`) or Teredo (client address, inverted, in
/// the last 32 bits).
pub(super) fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if bits >> 32 == 0 && bits > 1 {
        return Some(low32);
    }
    if in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        return Some(low32);
    }
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        return Some(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    if in_v6(ip, [0x2001, 0, 0, 0, 0, 0, 0, 0], 32) {
        return Some(Ipv4Addr::from(!((bits & 0xffff_ffff) as u32)));
    }
    None
}

/// The refusal for an address that no policy allows, [`PrivateTargets::Allow`] included:
/// link-local (169.254.0.0/16 — where cloud metadata services answer — and fe80::/10), the
/// cloud metadata address fd00:ec2::254, and the unspecified address (0.0.0.0/8 and `::`, which
/// connect to this machine); IPv4 forms wrapped in IPv6 are unwrapped first.
pub fn never_allowed(ip: IpAddr) -> Option<Refusal> {
    let v4 = match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => {
            if v6.is_unspecified() {
                return Some(Refusal::NeverAllowed {
                    ip,
                    kind: "unspecified",
                });
            }
            if in_v6(v6, [0xfe80, 0, 0, 0, 0, 0, 0, 0], 10) {
                return Some(Refusal::LinkLocalAddress(ip));
            }
            if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                return Some(Refusal::NeverAllowed {
                    ip,
                    kind: "cloud metadata",
                });
            }
            embedded_v4(v6)
        }
    };
    let v4 = v4?;
    if in_v4(v4, [169, 254, 0, 0], 16) {
        return Some(Refusal::LinkLocalAddress(ip));
    }
    if in_v4(v4, [0, 0, 0, 0], 8) {
        return Some(Refusal::NeverAllowed {
            ip,
            kind: "unspecified",
        });
    }
    None
}

/// The refusal for an address that `policy` does not allow, if any.
pub(super) fn check_address(policy: PrivateTargets, ip: IpAddr) -> Result<(), Refusal> {
    if is_public(ip) {
        return Ok(());
    }
    if policy == PrivateTargets::Allow {
        return never_allowed(ip).map_or(Ok(()), Err);
    }
    let canonical = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    };
    if classify(canonical) == Some("link-local") {
        Err(Refusal::LinkLocalAddress(ip))
    } else {
        Err(Refusal::PrivateAddress(ip))
    }
}

/// Keeps the addresses of `host` that `policy` allows, in order and without duplicates.
///
/// With [`PrivateTargets::Deny`], a mix of public and private answers keeps only the public
/// ones; if none remain the result is [`Refusal::NoPublicAddress`]. With
/// [`PrivateTargets::Allow`] every address is kept. This is exactly the filter the resolver
/// hook of [`GuardedClient::send`] applies before connecting.
pub fn filter_addresses(
    policy: PrivateTargets,
    host: &str,
    addrs: &[IpAddr],
) -> Result<Vec<IpAddr>, Refusal> {
    let mut kept: Vec<IpAddr> = Vec::with_capacity(addrs.len());
    for ip in addrs {
        if check_address(policy, *ip).is_ok() && !kept.contains(ip) {
            kept.push(*ip);
        }
    }
    if kept.is_empty() {
        Err(Refusal::NoPublicAddress {
            host: host.to_owned(),
        })
    } else {
        Ok(kept)
    }
}
