//! Decisions that make a server safe to host: which replay targets are allowed by default.

use hookvault_replay::guard::PrivateTargets;

/// The private-target policy: as configured, or — by default — `allow` only when the public
/// URL's host is loopback (a developer's own machine), `deny` otherwise. How the process is
/// bound does not matter: behind a reverse proxy a hosted server listens on loopback too.
/// An explicit `allow` with a public URL that is not loopback is logged as a warning.
pub fn private_targets_policy(
    configured: Option<PrivateTargets>,
    public_url: &str,
) -> PrivateTargets {
    let local = url_host_is_loopback(public_url);
    match configured {
        Some(PrivateTargets::Allow) if !local => {
            tracing::warn!(
                %public_url,
                "--private-targets allow: replays may reach loopback and private addresses of this \
                 server's network although the public URL is not loopback"
            );
            PrivateTargets::Allow
        }
        Some(p) => p,
        None if local => PrivateTargets::Allow,
        None => PrivateTargets::Deny,
    }
}

/// True when `url` parses and its host is `localhost` (or `*.localhost`) or a loopback address.
pub fn url_host_is_loopback(url: &str) -> bool {
    match url::Url::parse(url).ok().as_ref().and_then(url::Url::host) {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_targets_default_to_allow_only_for_a_loopback_public_url() {
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://[::1]:8080",
            "http://hv.localhost",
        ] {
            assert_eq!(
                private_targets_policy(None, url),
                PrivateTargets::Allow,
                "{url}"
            );
        }
        for url in [
            "https://hooks.example.com",
            "http://0.0.0.0:8080",
            "http://192.168.1.5:8080",
            "http://localhost.example.com",
            "not a url",
        ] {
            assert_eq!(
                private_targets_policy(None, url),
                PrivateTargets::Deny,
                "{url}"
            );
        }
        assert_eq!(
            private_targets_policy(Some(PrivateTargets::Allow), "https://hooks.example.com"),
            PrivateTargets::Allow,
            "explicit allow is honoured (with a warning)"
        );
        assert_eq!(
            private_targets_policy(Some(PrivateTargets::Deny), "http://127.0.0.1:8080"),
            PrivateTargets::Deny
        );
    }

    #[test]
    fn docker_compose_leaves_private_targets_to_the_default() {
        let compose = include_str!("../../../docker-compose.yml");
        let set: Vec<&str> = compose
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#') && l.contains("PRIVATE_TARGETS"))
            .collect();
        assert!(set.is_empty(), "docker-compose.yml sets {set:?}");
    }
}
