//! Decisions that make a server safe to host: where capture URLs live (the capture origin, and
//! routing by `Host` when it is a host of its own) and which replay targets are allowed by
//! default.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::{bail, Context as _};
use axum::extract::Request;
use axum::response::Response;
use axum::Router;
use hookvault_replay::guard::PrivateTargets;
use tower::ServiceExt;

/// Where the dashboard and the capture URLs live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origins {
    /// Base URL of the dashboard, without a trailing slash.
    pub public_url: String,
    /// Base of capture URLs (`{capture_url}/in/{token}`), without a trailing slash.
    pub capture_url: String,
    /// The capture URL's host (lower case, IPv6 in brackets) when it differs from the public
    /// URL's: one process then routes requests by `Host`.
    pub capture_host: Option<String>,
}

/// Works out the capture origin from `--public-url` and `--capture-url`.
///
/// Capture URLs receive anything from anyone, so a hosted server keeps them off the dashboard's
/// host: with an https public URL, a capture URL on the same host is refused unless
/// `shared_capture_origin` says it is meant.
pub fn origins(
    public_url: &str,
    capture_url: Option<&str>,
    shared_capture_origin: bool,
) -> anyhow::Result<Origins> {
    let public_url = public_url.trim_end_matches('/').to_string();
    let public = url::Url::parse(&public_url)
        .with_context(|| format!("--public-url {public_url:?} is not a URL"))?;
    let public_host = public
        .host_str()
        .filter(|h| !h.is_empty())
        .map(normal_host)
        .with_context(|| format!("--public-url {public_url:?} has no host"))?;
    let (capture_url, capture_host) = match capture_url {
        None => (public_url.clone(), None),
        Some(raw) => {
            let raw = raw.trim_end_matches('/');
            let parsed = url::Url::parse(raw)
                .with_context(|| format!("--capture-url {raw:?} is not a URL"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                bail!("--capture-url {raw:?} must be http or https");
            }
            if parsed.path() != "/"
                || parsed.query().is_some()
                || parsed.fragment().is_some()
                || !parsed.username().is_empty()
                || parsed.password().is_some()
            {
                bail!(
                    "--capture-url {raw:?} must be a scheme, host and optional port only \
                     (capture URLs are {{capture-url}}/in/{{token}})"
                );
            }
            let host = parsed
                .host_str()
                .filter(|h| !h.is_empty())
                .map(normal_host)
                .with_context(|| format!("--capture-url {raw:?} has no host"))?;
            let distinct = (host != public_host).then_some(host);
            (raw.to_string(), distinct)
        }
    };
    if public.scheme() == "https" && capture_host.is_none() && !shared_capture_origin {
        bail!(
            "capture URLs would share the dashboard's host ({public_host}): anyone can send \
             anything to a capture URL, and a logged-in user who follows one carries the \
             dashboard's cookies there. Give capture its own host, ideally on a separate \
             registrable domain (--capture-url https://hooks-capture.example.net), or accept \
             the shared host explicitly with --shared-capture-origin"
        );
    }
    Ok(Origins {
        public_url,
        capture_url,
        capture_host,
    })
}

/// Lower case, without a trailing dot (IPv6 stays in brackets, as `Url::host_str` gives it).
fn normal_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// The host a request is for: the authority of an absolute-form target, else the `Host`
/// header, without the port; lower case.
fn request_host(req: &Request) -> Option<String> {
    if let Some(host) = req.uri().host() {
        return Some(normal_host(host));
    }
    let value = req.headers().get(http::header::HOST)?.to_str().ok()?.trim();
    let host = if value.starts_with('[') {
        &value[..=value.find(']')?]
    } else {
        value.rsplit_once(':').map_or(value, |(h, _)| h)
    };
    Some(normal_host(host))
}

/// One process, two origins: requests for the capture host go to `capture` (which serves only
/// `/in/…` and health checks), every other request to `dashboard` (which serves no `/in/…`).
pub fn route_by_host(capture_host: String, capture: Router, dashboard: Router) -> Router {
    Router::new().fallback_service(ByHost {
        capture_host: capture_host.into(),
        capture,
        dashboard,
    })
}

/// The capture routes with health checks and an inert 404 for everything else: a capture-only
/// process, or the capture host of a process that serves two origins.
pub(crate) fn capture_only(capture: Router, pool: hookvault_store::PgPool) -> Router {
    capture
        .merge(hookvault_capture::health_router(pool))
        .fallback(|| async {
            (
                axum::http::StatusCode::NOT_FOUND,
                "not found: this host serves capture URLs only\n",
            )
        })
        .layer(axum::middleware::map_response(hookvault_capture::inert))
}

#[derive(Clone)]
struct ByHost {
    capture_host: Arc<str>,
    capture: Router,
    dashboard: Router,
}

impl tower::Service<Request> for ByHost {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let router = if request_host(&req).as_deref() == Some(&*self.capture_host) {
            self.capture.clone()
        } else {
            self.dashboard.clone()
        };
        Box::pin(router.oneshot(req))
    }
}

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
    fn a_capture_url_on_another_host_is_a_capture_origin_of_its_own() {
        let o = origins(
            "https://hooks.example.com/",
            Some("https://in.hooks-capture.example.net/"),
            false,
        )
        .unwrap();
        assert_eq!(
            o,
            Origins {
                public_url: "https://hooks.example.com".into(),
                capture_url: "https://in.hooks-capture.example.net".into(),
                capture_host: Some("in.hooks-capture.example.net".into()),
            }
        );
        let o = origins(
            "http://127.0.0.1:8080",
            Some("http://localhost:8080"),
            false,
        )
        .unwrap();
        assert_eq!(o.capture_host.as_deref(), Some("localhost"));
        let o = origins("http://[::1]:8080", Some("http://LOCALHOST.:9"), false).unwrap();
        assert_eq!(o.capture_host.as_deref(), Some("localhost"));
    }

    #[test]
    fn an_https_dashboard_refuses_to_share_its_host_with_capture_unless_told() {
        for capture in [None, Some("https://hooks.example.com:8443")] {
            let err = origins("https://hooks.example.com", capture, false).unwrap_err();
            assert!(err.to_string().contains("--shared-capture-origin"), "{err}");
            let o = origins("https://hooks.example.com", capture, true).unwrap();
            assert_eq!(o.capture_host, None);
        }
        // Plain http (a developer's machine) may share.
        let o = origins("http://127.0.0.1:8080", None, false).unwrap();
        assert_eq!(o.capture_url, "http://127.0.0.1:8080");
        assert_eq!(o.capture_host, None);
    }

    #[test]
    fn a_capture_url_with_a_path_credentials_or_another_scheme_is_refused() {
        for bad in [
            "https://c.example.net/in",
            "https://c.example.net/?x=1",
            "https://user@c.example.net",
            "ftp://c.example.net",
            "not a url",
        ] {
            assert!(
                origins("https://hooks.example.com", Some(bad), true).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_request_host_comes_from_the_target_authority_or_the_host_header_without_port() {
        let host = |target: &str, header: Option<&str>| {
            let mut b = Request::builder().uri(target);
            if let Some(h) = header {
                b = b.header("host", h);
            }
            request_host(&b.body(axum::body::Body::empty()).unwrap())
        };
        assert_eq!(
            host("/in/x", Some("LocalHost:8080")),
            Some("localhost".into())
        );
        assert_eq!(host("/in/x", Some("[::1]:8080")), Some("[::1]".into()));
        assert_eq!(host("/in/x", Some("127.0.0.1")), Some("127.0.0.1".into()));
        assert_eq!(
            host(
                "http://capture.example.net/in/x",
                Some("dashboard.example.com")
            ),
            Some("capture.example.net".into())
        );
        assert_eq!(host("/in/x", None), None);
    }

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
