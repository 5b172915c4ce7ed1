//! The one guarded outbound HTTP client (security spec §1.2, rules R1–R10).
//!
//! Every request Hookvault makes to a tenant-chosen URL (replays today; verification pings,
//! previews or OAuth exchanges if they are ever added) must go through [`GuardedClient`].
//!
//! What it enforces:
//!
//! * **R1 parse once** — URLs are parsed with the WHATWG parser of the `url` crate, which
//!   normalises `0x7f.1`, `2130706433`, `0177.0.0.1`, `127.1` … to dotted IPv4; the parsed
//!   [`url::Url`] is what is sent.
//! * **R2/R3** — `http`/`https` only, port 0 refused, no control characters, no user info.
//! * **R4** — IP literals are classified before sending (a DNS resolver never sees them).
//! * **R5** — host names are resolved *only* inside the HTTP client's resolver hook; disallowed
//!   addresses are dropped there, so the connection is made to exactly the checked addresses
//!   (no DNS-rebinding window). A lookup failure is a failed request, never a fallback.
//! * **R6** — [`is_public`] / [`classify`] implement the address rules.
//! * **R7/R8/R9** — no redirects, no proxies, connect and total timeouts, response body capped.
//! * **R10** — hop-by-hop, framing, cloud-metadata and cloud-vendor (`x-amz-*`, `x-goog-*`, …)
//!   request headers are never forwarded.
//!
//! With [`PrivateTargets::Allow`] (a single developer running Hookvault locally) loopback and
//! private addresses are allowed, but every other rule still applies, and link-local and cloud
//! metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254, also inside IPv4-mapped, NAT64,
//! 6to4 and Teredo addresses) and the unspecified address are refused under every policy
//! ([`never_allowed`]).

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use url::{Host, Url};

/// Longest URL (in bytes) accepted by [`GuardedClient::check_url`].
pub const MAX_URL_LEN: usize = 4096;

/// Upper bound for establishing a TCP (and TLS) connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Upper bound for one DNS lookup made by the resolver hook.
pub const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether outbound requests may target loopback, private and other non-public addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivateTargets {
    /// Allow loopback and private addresses (local single-developer setup); link-local, metadata
    /// and unspecified addresses stay refused.
    Allow,
    /// Allow only public unicast addresses (hosted service; the safe default).
    Deny,
}

impl FromStr for PrivateTargets {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "allow" => Ok(Self::Allow),
            "deny" => Ok(Self::Deny),
            other => Err(format!(
                "private targets must be \"allow\" or \"deny\", not {other:?}"
            )),
        }
    }
}

impl fmt::Display for PrivateTargets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        })
    }
}

/// Why a URL or address was refused. The `Display` text is one line in words, suitable for
/// showing to the tenant (e.g. as the body of an HTTP 422).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    /// The text is not a valid absolute URL (or is too long, or contains control characters).
    #[error("refused: invalid URL: {0}")]
    InvalidUrl(String),
    /// The scheme is not `http` or `https`.
    #[error("refused: scheme {0:?} is not http or https")]
    Scheme(String),
    /// The port is not allowed (port 0).
    #[error("refused: port {0} is not allowed")]
    Port(u16),
    /// The URL carries a user name or password. Credentials in a URL would be stored and shown
    /// with the replay history, and `user@host` is a classic way to disguise a host.
    #[error("refused: the URL contains a user name or password")]
    Userinfo,
    /// A name that always means this machine (`localhost`, `*.localhost`).
    #[error("refused: local host name {0}")]
    LocalHostname(String),
    /// A non-public address (loopback, RFC 1918, CGNAT, reserved, multicast, …).
    #[error("refused: private address {0}")]
    PrivateAddress(IpAddr),
    /// A link-local address (169.254.0.0/16 — cloud metadata — or fe80::/10).
    #[error("refused: link-local address {0}")]
    LinkLocalAddress(IpAddr),
    /// An address refused under every policy that is not link-local: the unspecified address
    /// (`0.0.0.0/8`, `::`, which reach this machine) or a cloud metadata address (fd00:ec2::254).
    #[error("refused: {kind} address {ip}")]
    NeverAllowed {
        /// The address.
        ip: IpAddr,
        /// "unspecified" or "cloud metadata".
        kind: &'static str,
    },
    /// The host name resolved only to addresses that are not allowed.
    #[error("refused: no public address for {host}")]
    NoPublicAddress {
        /// The host name that was resolved.
        host: String,
    },
    /// The HTTP method cannot be sent (CONNECT).
    #[error("refused: method {0} is not allowed")]
    Method(String),
}

/// One outbound request, built from stored data. `Debug` shows header names but not values,
/// and the body's length only (they are captured data).
#[derive(Clone)]
pub struct OutboundRequest {
    /// HTTP method.
    pub method: http::Method,
    /// Target URL; it is checked again before sending.
    pub url: Url,
    /// Header names and raw values, in order; repeated names are sent repeatedly.
    /// Hop-by-hop, framing and cloud-metadata headers are dropped, as are names or values
    /// that are not valid HTTP.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Body bytes, sent unchanged.
    pub body: Bytes,
}

impl fmt::Debug for OutboundRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("OutboundRequest")
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field("header_names", &names)
            .field("body", &hookvault_core::headers::Redacted(self.body.len()))
            .finish()
    }
}

/// The answer to an [`OutboundRequest`].
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    /// HTTP status code (a 3xx is returned as is; redirects are never followed).
    pub status: u16,
    /// Response headers in order; values that are not UTF-8 are converted lossily.
    pub headers: Vec<(String, String)>,
    /// The first `max_response_bytes` bytes of the body.
    pub body: Vec<u8>,
    /// True when the body was longer than `max_response_bytes` and reading stopped.
    pub body_truncated: bool,
    /// Time from the start of [`GuardedClient::send`] until the body was read.
    pub duration: Duration,
}

/// Why [`GuardedClient::send`] produced no response. `Display` is one line in words.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The URL or the address it leads to is not allowed.
    #[error("{0}")]
    Refused(Refusal),
    /// No complete response within the time limit.
    #[error("timed out after {secs} s")]
    Timeout {
        /// The limit that was exceeded, in whole seconds (rounded up).
        secs: u64,
    },
    /// The connection could not be made or was broken (e.g. "connection refused").
    #[error("{0}")]
    Connect(String),
    /// The host name could not be resolved (e.g. "DNS lookup failed for example.invalid").
    #[error("{0}")]
    Dns(String),
    /// Anything else, e.g. "TLS error: …" or an HTTP protocol error.
    #[error("{0}")]
    Other(String),
}

impl From<Refusal> for SendError {
    fn from(r: Refusal) -> Self {
        Self::Refused(r)
    }
}

/// Resolves host names to addresses. Implemented by [`SystemResolver`]; tests supply their own
/// (e.g. to simulate DNS rebinding).
pub trait HostResolver: Send + Sync {
    /// Returns every address `host` resolves to (port-less).
    fn resolve(&self, host: &str) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>>;
}

/// The operating system's resolver (`getaddrinfo` via [`tokio::net::lookup_host`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl HostResolver for SystemResolver {
    fn resolve(&self, host: &str) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        let host = host.to_owned();
        async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        }
        .boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// Address classification (R6)
// ---------------------------------------------------------------------------------------------

fn in_v4(ip: Ipv4Addr, net: [u8; 4], len: u32) -> bool {
    let ip = u32::from(ip);
    let net = u32::from(Ipv4Addr::from(net));
    len == 0 || (ip ^ net) >> (32 - len) == 0
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], len: u32) -> bool {
    let ip = u128::from(ip);
    let [a, b, c, d, e, f, g, h] = net;
    let net = u128::from(Ipv6Addr::new(a, b, c, d, e, f, g, h));
    len == 0 || (ip ^ net) >> (128 - len) == 0
}

fn classify_v4(ip: Ipv4Addr) -> Option<&'static str> {
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

fn classify_v6(ip: Ipv6Addr) -> Option<&'static str> {
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
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
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
fn check_address(policy: PrivateTargets, ip: IpAddr) -> Result<(), Refusal> {
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

// ---------------------------------------------------------------------------------------------
// URL checks (R1–R4)
// ---------------------------------------------------------------------------------------------

/// No user info at all: credentials in a target URL would be stored with the replay and shown
/// in its history, and `trusted@evil` is a classic way to disguise a host. (An empty `@` is
/// harmless and the parser drops it.)
fn userinfo_ok(url: &Url) -> bool {
    url.username().is_empty() && url.password().is_none()
}

fn is_local_name(domain: &str) -> bool {
    let name = domain.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Checks a URL string against every rule that does not need DNS (see
/// [`GuardedClient::check_url`]).
pub fn check_url_with_policy(policy: PrivateTargets, url: &str) -> Result<Url, Refusal> {
    if url.len() > MAX_URL_LEN {
        return Err(Refusal::InvalidUrl(format!(
            "longer than {MAX_URL_LEN} characters"
        )));
    }
    // WHATWG parsing silently strips tabs and newlines and trims spaces; refuse them instead
    // so that what the tenant typed is what we check and send.
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Refusal::InvalidUrl(
            "contains spaces or control characters".to_owned(),
        ));
    }
    let parsed = Url::parse(url).map_err(|e| Refusal::InvalidUrl(e.to_string()))?;
    let scheme = parsed.scheme();
    if scheme != "http" && scheme != "https" {
        return Err(Refusal::Scheme(scheme.to_owned()));
    }
    if parsed.port() == Some(0) {
        return Err(Refusal::Port(0));
    }
    if !userinfo_ok(&parsed) {
        return Err(Refusal::Userinfo);
    }
    match parsed.host() {
        None => return Err(Refusal::InvalidUrl("no host".to_owned())),
        Some(Host::Ipv4(v4)) => check_address(policy, IpAddr::V4(v4))?,
        Some(Host::Ipv6(v6)) => check_address(policy, IpAddr::V6(v6))?,
        Some(Host::Domain(domain)) => {
            if domain.is_empty() {
                return Err(Refusal::InvalidUrl("empty host".to_owned()));
            }
            if policy == PrivateTargets::Deny && is_local_name(domain) {
                return Err(Refusal::LocalHostname(domain.to_owned()));
            }
        }
    }
    Ok(parsed)
}

// ---------------------------------------------------------------------------------------------
// Resolver hook (R5)
// ---------------------------------------------------------------------------------------------

/// A DNS failure inside the resolver hook; recognised again when mapping reqwest errors.
#[derive(Debug)]
struct DnsFailure {
    host: String,
    reason: String,
}

impl fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DNS lookup failed for {}: {}", self.host, self.reason)
    }
}

impl StdError for DnsFailure {}

/// The reqwest resolver: resolves through a [`HostResolver`] with a timeout and drops every
/// address the policy does not allow, so hyper connects only to checked addresses.
struct GuardResolver {
    policy: PrivateTargets,
    inner: Arc<dyn HostResolver>,
}

impl reqwest::dns::Resolve for GuardResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let policy = self.policy;
        let lookup = self.inner.resolve(&host);
        Box::pin(async move {
            let answer = tokio::time::timeout(DNS_TIMEOUT, lookup).await;
            let addrs = match answer {
                Err(_) => {
                    return Err(Box::new(DnsFailure {
                        host,
                        reason: format!("timed out after {} s", DNS_TIMEOUT.as_secs()),
                    }) as Box<dyn StdError + Send + Sync>)
                }
                Ok(Err(e)) => {
                    return Err(Box::new(DnsFailure {
                        host,
                        reason: e.to_string(),
                    }) as Box<dyn StdError + Send + Sync>)
                }
                Ok(Ok(addrs)) if addrs.is_empty() => {
                    return Err(Box::new(DnsFailure {
                        host,
                        reason: "no addresses".to_owned(),
                    }) as Box<dyn StdError + Send + Sync>)
                }
                Ok(Ok(addrs)) => addrs,
            };
            match filter_addresses(policy, &host, &addrs) {
                Ok(kept) => {
                    tracing::debug!(%host, addresses = ?kept, "resolved outbound host");
                    let iter = kept.into_iter().map(|ip| SocketAddr::new(ip, 0));
                    Ok(Box::new(iter) as reqwest::dns::Addrs)
                }
                Err(refusal) => {
                    tracing::info!(%host, addresses = ?addrs, "refused outbound host: no allowed address");
                    Err(Box::new(refusal) as Box<dyn StdError + Send + Sync>)
                }
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Headers (R10)
// ---------------------------------------------------------------------------------------------

/// Prefixes of cloud vendors' own request headers (AWS, Google Cloud, Azure, Azure Front Door).
/// They authenticate or steer requests inside a provider's network (`x-amz-security-token`,
/// `x-goog-iam-authority-selector`, `x-ms-*` storage auth, …), so a replay must not carry them
/// to a target that might be such a service (Svix strips the same prefixes).
const VENDOR_PREFIXES: &[&str] = &[
    "x-amz-",
    "x-amzn-",
    "x-aws-",
    "x-goog-",
    "x-google-",
    "x-gfe-",
    "x-azure-",
    "x-ms-",
    "x-fd-",
];

/// True for request headers that must never be forwarded: hop-by-hop and framing headers
/// (recomputed by the client), headers that unlock cloud metadata services (`Metadata-Flavor`,
/// `Metadata`, `X-aws-ec2-metadata-token*`, `X-IDENTITY-HEADER`) and cloud vendors' own headers
/// ([`VENDOR_PREFIXES`]).
pub fn is_stripped_header(name: &str) -> bool {
    if hookvault_core::headers::is_hop_by_hop(name) {
        return true;
    }
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "metadata-flavor" | "metadata" | "x-identity-header" | "x-cloud-trace-context"
    ) || VENDOR_PREFIXES.iter().any(|p| name.starts_with(p))
}

fn build_headers(headers: &[(String, Vec<u8>)]) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if is_stripped_header(name) {
            continue;
        }
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) else {
            tracing::debug!("dropping a request header that is not valid HTTP");
            continue;
        };
        map.append(name, value);
    }
    map
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

/// The guarded outbound HTTP client. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct GuardedClient {
    policy: PrivateTargets,
    timeout: Duration,
    max_response_bytes: usize,
    client: Result<reqwest::Client, Arc<str>>,
}

impl fmt::Debug for GuardedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedClient")
            .field("policy", &self.policy)
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("ready", &self.client.is_ok())
            .finish()
    }
}

fn secs_rounded_up(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl GuardedClient {
    /// A client with the given private-target policy, total time limit per request and
    /// response-body cap, resolving host names with the [`SystemResolver`].
    pub fn new(policy: PrivateTargets, timeout: Duration, max_response_bytes: usize) -> Self {
        Self::with_resolver(
            policy,
            timeout,
            max_response_bytes,
            Arc::new(SystemResolver),
        )
    }

    /// Same as [`GuardedClient::new`], but resolving host names through `resolver` (tests use
    /// it to simulate DNS rebinding: first answer public, second private).
    pub fn with_resolver(
        policy: PrivateTargets,
        timeout: Duration,
        max_response_bytes: usize,
        resolver: Arc<dyn HostResolver>,
    ) -> Self {
        let guard = Arc::new(GuardResolver {
            policy,
            inner: resolver,
        });
        let client = reqwest::Client::builder()
            .dns_resolver(guard)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(4)
            .build()
            .map_err(|e| Arc::<str>::from(format!("could not build the HTTP client: {e}")));
        if let Err(e) = &client {
            tracing::error!(error = %e, "guarded client unusable");
        }
        Self {
            policy,
            timeout,
            max_response_bytes,
            client,
        }
    }

    /// The private-target policy of this client.
    pub fn policy(&self) -> PrivateTargets {
        self.policy
    }

    /// Checks a URL string before it is stored (a refusal becomes HTTP 422 with its `Display`):
    /// parsed with the WHATWG parser (`0x7f.1`, `2130706433`, `0177.0.0.1`, `127.1` become
    /// dotted IPv4), `http`/`https` only, no control characters or spaces, no user name or
    /// password, port not 0, IP literals and `localhost` names checked against the policy. Host
    /// names are *not* resolved here; that happens, and is checked again, in [`Self::send`].
    pub fn check_url(&self, url: &str) -> Result<Url, Refusal> {
        check_url_with_policy(self.policy, url)
    }

    /// Sends one request and reads at most `max_response_bytes` of the response body.
    ///
    /// The URL is checked again; IP literals are classified here; host names are resolved only
    /// inside the client's resolver, which drops disallowed addresses so the connection uses
    /// exactly the checked addresses. Redirects are not followed, proxies are never used, the
    /// connection must be made within ~10 s and the whole exchange within the client's timeout.
    /// Hop-by-hop, framing, cloud-metadata and cloud-vendor request headers are not forwarded.
    pub async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, SendError> {
        let started = Instant::now();
        let url = self.check_url(req.url.as_str())?;
        if req.method == http::Method::CONNECT {
            return Err(Refusal::Method(req.method.to_string()).into());
        }
        let client = self
            .client
            .as_ref()
            .map_err(|e| SendError::Other(e.to_string()))?;
        let https = url.scheme() == "https";
        let headers = build_headers(&req.headers);
        let request = client
            .request(req.method, url)
            .headers(headers)
            .body(req.body);

        let max = self.max_response_bytes;
        let exchange = async move {
            let mut response = request.send().await?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect::<Vec<_>>();
            let declared = response.content_length();
            let mut body: Vec<u8> = Vec::with_capacity(max.min(64 * 1024));
            let mut truncated = false;
            loop {
                if body.len() >= max
                    && declared.is_some_and(|n| usize::try_from(n).is_ok_and(|n| n <= max))
                {
                    break;
                }
                match response.chunk().await? {
                    None => break,
                    Some(chunk) => {
                        let room = max - body.len();
                        if chunk.len() > room {
                            body.extend_from_slice(&chunk[..room]);
                            truncated = true;
                            break;
                        }
                        body.extend_from_slice(&chunk);
                    }
                }
            }
            Ok::<_, reqwest::Error>((status, headers, body, truncated))
        };

        let outcome = tokio::time::timeout(self.timeout, exchange).await;
        let duration = started.elapsed();
        match outcome {
            Err(_) => Err(SendError::Timeout {
                secs: secs_rounded_up(self.timeout),
            }),
            Ok(Err(e)) => {
                let err = self.map_error(e, https, duration);
                tracing::debug!(error = %err, "outbound request failed");
                Err(err)
            }
            Ok(Ok((status, headers, body, body_truncated))) => Ok(OutboundResponse {
                status,
                headers,
                body,
                body_truncated,
                duration,
            }),
        }
    }

    fn map_error(&self, err: reqwest::Error, https: bool, elapsed: Duration) -> SendError {
        let err = err.without_url();
        let mut source: Option<&(dyn StdError + 'static)> = Some(&err);
        while let Some(e) = source {
            if let Some(refusal) = e.downcast_ref::<Refusal>() {
                return SendError::Refused(refusal.clone());
            }
            if let Some(dns) = e.downcast_ref::<DnsFailure>() {
                tracing::debug!(host = %dns.host, reason = %dns.reason, "DNS lookup failed");
                return SendError::Dns(format!("DNS lookup failed for {}", dns.host));
            }
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                use std::io::ErrorKind as K;
                let words = match io.kind() {
                    K::ConnectionRefused => Some("connection refused"),
                    K::ConnectionReset => Some("connection reset"),
                    K::ConnectionAborted => Some("connection aborted"),
                    K::HostUnreachable => Some("host unreachable"),
                    K::NetworkUnreachable => Some("network unreachable"),
                    K::AddrNotAvailable => Some("address not available"),
                    K::BrokenPipe => Some("connection closed while sending"),
                    _ => None,
                };
                if let Some(words) = words {
                    return SendError::Connect(words.to_owned());
                }
                if io.kind() == K::InvalidData && https && err.is_connect() {
                    let inner = io
                        .get_ref()
                        .map_or_else(|| io.to_string(), |i| i.to_string());
                    return SendError::Other(format!("TLS error: {inner}"));
                }
            }
            source = e.source();
        }
        if err.is_timeout() {
            let limit = if elapsed < self.timeout {
                CONNECT_TIMEOUT.min(self.timeout)
            } else {
                self.timeout
            };
            return SendError::Timeout {
                secs: secs_rounded_up(limit),
            };
        }
        let chain = error_chain(&err);
        // hyper's wording when the peer closes the connection before a complete response.
        if chain.contains("connection closed before message completed") {
            return SendError::Connect("connection closed by the server before a response".into());
        }
        if https && err.is_connect() {
            // TCP-level failures were recognised above, so this is the TLS handshake
            // (e.g. "invalid peer certificate: UnknownIssuer"); show its innermost cause.
            return SendError::Other(format!("TLS error: {}", innermost(&err)));
        }
        if err.is_connect() {
            return SendError::Connect(format!("connection failed: {chain}"));
        }
        SendError::Other(chain)
    }
}

/// The message of the innermost source of `err`, on one line.
fn innermost(err: &(dyn StdError + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string().replace(['\r', '\n'], " ")
}

/// The error and its sources on one line, without repeating messages.
fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = Some(err);
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ").replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_targets_round_trip_through_text() {
        for p in [PrivateTargets::Allow, PrivateTargets::Deny] {
            assert_eq!(p.to_string().parse::<PrivateTargets>(), Ok(p));
        }
        assert!("maybe".parse::<PrivateTargets>().is_err());
    }
}
