//! The resolver hook (R5): names resolve only inside the HTTP client, to checked addresses.

use super::*;

/// A DNS failure inside the resolver hook; recognised again when mapping reqwest errors.
#[derive(Debug)]
pub(super) struct DnsFailure {
    pub(super) host: String,
    pub(super) reason: String,
}

impl fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DNS lookup failed for {}: {}", self.host, self.reason)
    }
}

impl StdError for DnsFailure {}

/// The reqwest resolver: resolves through a [`HostResolver`] with a timeout and drops every
/// address the policy does not allow, so hyper connects only to checked addresses.
pub(super) struct GuardResolver {
    pub(super) policy: PrivateTargets,
    pub(super) inner: Arc<dyn HostResolver>,
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
