//! Which endpoint `hookvault listen` follows, and the line that says so: the endpoint named
//! with `--endpoint`, else the account's oldest one (saying so, and how to choose another, when
//! there are several), else a new one named "listen".

use anyhow::{bail, Context};
use hookvault_core::api::{EndpointJson, EndpointListJson, EndpointSummaryJson, NameJson};

/// The endpoint followed, and how it was chosen.
pub struct Chosen {
    pub endpoint: EndpointSummaryJson,
    pub how: How,
}

/// How the endpoint was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// `--endpoint NAME_OR_ID`.
    Asked,
    /// The account's only endpoint.
    Only,
    /// The oldest of `n` endpoints (none was asked for).
    Oldest { of: usize },
    /// The account had none: one named "listen" was created.
    Created,
}

impl Chosen {
    /// What `listen` prints at start: the endpoint's name, capture URL and id, and when it
    /// picked one of several on its own, which one and how to choose.
    pub fn lines(&self) -> Vec<String> {
        let e = &self.endpoint;
        let mut out = vec![format!(
            "Following endpoint {:?} ({}) id {}",
            e.name, e.url, e.id
        )];
        match self.how {
            How::Oldest { of } => out.push(format!(
                "This account has {of} endpoints and none was chosen, so this is the oldest. \
                 Choose another with --endpoint NAME_OR_ID (or HOOKVAULT_ENDPOINT)."
            )),
            How::Created => out.push(
                "This account had no endpoint, so one named \"listen\" was created.".to_string(),
            ),
            How::Asked | How::Only => {}
        }
        out
    }
}

/// Finds the endpoint to follow (see the module comment).
pub async fn resolve(
    api: &reqwest::Client,
    server: &str,
    token: &str,
    wanted: Option<&str>,
) -> anyhow::Result<Chosen> {
    let resp = api
        .get(format!("{server}/api/v1/endpoints"))
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("cannot reach {server}"))?;
    if resp.status().as_u16() == 401 {
        bail!("the server refused the token: run `hookvault login` again");
    }
    let list: EndpointListJson = resp.error_for_status()?.json().await?;
    if let Some(w) = wanted {
        let names: Vec<String> = list.endpoints.iter().map(|e| e.name.clone()).collect();
        return list
            .endpoints
            .into_iter()
            .find(|e| e.id.to_string() == w || e.name == w)
            .map(|endpoint| Chosen {
                endpoint,
                how: How::Asked,
            })
            .with_context(|| {
                format!("no endpoint named or with id {w:?} (this account has: {names:?})")
            });
    }
    let of = list.endpoints.len();
    // The server lists endpoints oldest first.
    if let Some(first) = list.endpoints.into_iter().next() {
        let how = if of == 1 {
            How::Only
        } else {
            How::Oldest { of }
        };
        return Ok(Chosen {
            endpoint: first,
            how,
        });
    }
    let created: EndpointJson = api
        .post(format!("{server}/api/v1/endpoints"))
        .bearer_auth(token)
        .json(&NameJson {
            name: "listen".into(),
        })
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(Chosen {
        endpoint: EndpointSummaryJson {
            id: created.id,
            name: created.name,
            url: created.url,
            created_at: created.created_at,
            request_count: 0,
        },
        how: How::Created,
    })
}

/// Whether the endpoint checks the signature of each capture (a signing scheme with a secret).
pub async fn checks_signatures(
    api: &reqwest::Client,
    server: &str,
    token: &str,
    endpoint_id: &str,
) -> anyhow::Result<bool> {
    let endpoint: EndpointJson = api
        .get(format!("{server}/api/v1/endpoints/{endpoint_id}"))
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("cannot reach {server}"))?
        .error_for_status()?
        .json()
        .await?;
    Ok(endpoint
        .signing
        .is_some_and(|s| s.secret_set && s.scheme.signs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(how: How) -> Chosen {
        Chosen {
            endpoint: EndpointSummaryJson {
                id: hookvault_core::ids::EndpointId::nil(),
                name: "stripe-dev".into(),
                url: "https://in.example/in/abc".into(),
                created_at: String::new(),
                request_count: 0,
            },
            how,
        }
    }

    #[test]
    fn the_endpoint_line_names_the_endpoint_its_url_and_id() {
        let lines = chosen(How::Asked).lines();
        assert_eq!(
            lines,
            vec![format!(
                "Following endpoint \"stripe-dev\" (https://in.example/in/abc) id {}",
                hookvault_core::ids::EndpointId::nil()
            )]
        );
    }

    #[test]
    fn picking_one_of_several_endpoints_says_so_and_how_to_choose() {
        let lines = chosen(How::Oldest { of: 3 }).lines();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].contains("has 3 endpoints"), "{lines:?}");
        assert!(lines[1].contains("--endpoint NAME_OR_ID"), "{lines:?}");
    }
}
