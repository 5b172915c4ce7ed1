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

/// Idle keep-alive connections kept per host by [`GuardedClient::new`].
pub const DEFAULT_IDLE_PER_HOST: usize = 4;

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
    /// The text has no `scheme://` (e.g. `localhost:8000/hook`).
    #[error("the URL must start with http:// or https:// — add it, e.g. http://{0}")]
    NoScheme(String),
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

mod address;
mod headers;
mod resolver;
mod target_url;

pub use address::*;
pub use headers::*;
use resolver::*;
pub use target_url::*;

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
    /// response-body cap, resolving host names with the [`SystemResolver`], keeping up to
    /// [`DEFAULT_IDLE_PER_HOST`] idle connections per host (idle ones close after 30 s).
    pub fn new(policy: PrivateTargets, timeout: Duration, max_response_bytes: usize) -> Self {
        Self::with_idle_per_host(policy, timeout, max_response_bytes, DEFAULT_IDLE_PER_HOST)
    }

    /// Same as [`GuardedClient::new`], keeping up to `idle_per_host` idle keep-alive
    /// connections per host for reuse (the replay workers pass their per-host concurrency, so
    /// every connection of a busy destination is kept between two sends instead of closed).
    pub fn with_idle_per_host(
        policy: PrivateTargets,
        timeout: Duration,
        max_response_bytes: usize,
        idle_per_host: usize,
    ) -> Self {
        Self::build(
            policy,
            timeout,
            max_response_bytes,
            Arc::new(SystemResolver),
            idle_per_host,
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
        Self::build(
            policy,
            timeout,
            max_response_bytes,
            resolver,
            DEFAULT_IDLE_PER_HOST,
        )
    }

    fn build(
        policy: PrivateTargets,
        timeout: Duration,
        max_response_bytes: usize,
        resolver: Arc<dyn HostResolver>,
        idle_per_host: usize,
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
            .pool_max_idle_per_host(idle_per_host.max(1))
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
