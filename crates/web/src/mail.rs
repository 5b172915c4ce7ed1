//! Outgoing mail (issue 13): verification links, password resets, account deletion notices.
//!
//! With `--smtp-url` mails go out through that server (`smtps://` = TLS from the first byte,
//! `smtp://` = STARTTLS, required unless the host is loopback or the URL says `?tls=…`). With
//! none, each mail is written to the log instead, which the start-up log says once: the
//! embedded default keeps working, but the log then holds sign-in capable links, so that is for
//! development only. Mails are sent in the background: a page never waits for (nor reveals by
//! its timing) a delivery, and a failed delivery is logged without the message.

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Account settings given on the command line.
#[derive(Debug, Clone)]
pub struct AccountsConfig {
    /// `smtp://` or `smtps://` URL of the mail server; `None` = mails go to the log.
    pub smtp_url: Option<String>,
    /// The sender of every mail (`Name <address>` or an address).
    pub mail_from: String,
    /// Captures of accounts whose email is not verified wait: `503` with `Retry-After`.
    pub require_verified_email: bool,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            smtp_url: None,
            mail_from: "Hookvault <hookvault@localhost>".into(),
            require_verified_email: false,
        }
    }
}

/// Why the mail settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MailSetupError {
    #[error("--mail-from is not a valid address: {0}")]
    From(String),
    /// The URL itself is not repeated: it may hold the SMTP password.
    #[error("--smtp-url is not a usable smtp:// or smtps:// URL: {0}")]
    Url(String),
}

/// Sends mail, or writes it to the log. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    /// The SMTP transport and the sender; `None`: mails go to the log.
    transport: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
}

impl Mailer {
    pub fn new(config: &AccountsConfig) -> Result<Mailer, MailSetupError> {
        let from: Mailbox = config
            .mail_from
            .parse()
            .map_err(|e: lettre::address::AddressError| MailSetupError::From(e.to_string()))?;
        let transport = match &config.smtp_url {
            None => {
                tracing::warn!(
                    "no --smtp-url: mails (verification and password-reset links) are written \
                     to the log instead of being sent; for development only"
                );
                None
            }
            Some(url) => {
                let url = with_tls_default(url);
                let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
                    .map_err(|e| MailSetupError::Url(e.to_string()))?;
                Some((builder.build(), from))
            }
        };
        Ok(Mailer { transport })
    }

    /// Writes every mail to the log, silently (tests and roles that send none).
    pub fn log_only() -> Mailer {
        Mailer { transport: None }
    }

    /// Whether mails are really sent (else they go to the log).
    pub fn sends(&self) -> bool {
        self.transport.is_some()
    }

    /// Sends a plain-text mail in the background. An address that cannot be mailed, or a
    /// delivery that fails, is logged (without the body, which may hold a token).
    pub fn send(&self, to: &str, subject: &str, body: String) {
        let Some((transport, from)) = self.transport.clone() else {
            // Documented development behaviour: no SMTP, so the mail (and its link) is logged.
            tracing::info!(mail.to = %to, mail.subject = %subject, "mail not sent (no --smtp-url configured):\n{body}");
            return;
        };
        let to_box: Mailbox = match to.parse() {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "mail not sent: the recipient is not a valid address");
                return;
            }
        };
        let message = Message::builder()
            .from(from)
            .to(to_box)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body);
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "mail not sent: it could not be built");
                return;
            }
        };
        let subject = subject.to_string();
        tokio::spawn(async move {
            match transport.send(message).await {
                Ok(_) => tracing::info!(mail.subject = %subject, "mail sent"),
                Err(e) => {
                    tracing::warn!(mail.subject = %subject, error = %e, "sending mail failed")
                }
            }
        });
    }
}

/// `smtp://` without a `tls` parameter: STARTTLS required, except on a loopback host (a local
/// relay or test sink), where it is used when offered.
fn with_tls_default(url: &str) -> String {
    let Some(rest) = url.strip_prefix("smtp://") else {
        return url.to_string();
    };
    if url.contains("tls=") {
        return url.to_string();
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port
            .split(']')
            .next()
            .unwrap_or("")
            .trim_start_matches('[')
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let tls = if loopback {
        "opportunistic"
    } else {
        "required"
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}tls={tls}")
}

#[cfg(test)]
mod tests {
    use super::with_tls_default;

    #[test]
    fn starttls_is_required_unless_loopback_or_said() {
        assert_eq!(
            with_tls_default("smtp://u:p@mail.example.com:587"),
            "smtp://u:p@mail.example.com:587?tls=required"
        );
        assert_eq!(
            with_tls_default("smtp://127.0.0.1:2525"),
            "smtp://127.0.0.1:2525?tls=opportunistic"
        );
        assert_eq!(
            with_tls_default("smtp://[::1]:25?x=1"),
            "smtp://[::1]:25?x=1&tls=opportunistic"
        );
        assert_eq!(
            with_tls_default("smtps://u:p@mail.example.com:465"),
            "smtps://u:p@mail.example.com:465"
        );
        assert_eq!(
            with_tls_default("smtp://relay:25?tls=none"),
            "smtp://relay:25?tls=none"
        );
    }
}
