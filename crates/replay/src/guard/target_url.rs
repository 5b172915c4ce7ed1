//! URL checks (R1–R4): parse once, http(s) only, no user info, IP literals classified.

use super::*;

/// No user info at all: credentials in a target URL would be stored with the replay and shown
/// in its history, and `trusted@evil` is a classic way to disguise a host. (An empty `@` is
/// harmless and the parser drops it.)
pub(super) fn userinfo_ok(url: &Url) -> bool {
    url.username().is_empty() && url.password().is_none()
}

pub(super) fn is_local_name(domain: &str) -> bool {
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
    // `localhost:8000/hook` parses as scheme "localhost", `example.com/hook` as a relative URL:
    // say what is missing instead. (`javascript:…`, `data:…` keep their scheme refusal.)
    let host_and_port = match url.split_once(':') {
        None => true,
        Some((_, rest)) => rest.starts_with(|c: char| c.is_ascii_digit()),
    };
    if !url.contains("://") && host_and_port && !url.is_empty() {
        return Err(Refusal::NoScheme(url.to_owned()));
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
