//! The alert adapter: POSTs one JSON document to an alert webhook (a GitLab alert HTTP
//! integration, or any JSON webhook) with `Authorization: Bearer <token>` when a token is
//! given. It decides nothing about when to alert; [`crate::drift::alert`] does. The token
//! never appears in any output, and errors name the endpoint without its query string or
//! user information (where secrets hide in webhook URLs).

use std::time::Duration;

use serde::Serialize;
use url::Url;

use crate::gitlab::{Token, without_url};
use crate::http_status;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most of an error answer kept for the message.
const MAX_MESSAGE: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The endpoint answered with an error status.
    #[error("POST {endpoint}: {}", http_status::line(*status, "", message))]
    Status {
        endpoint: String,
        status: u16,
        message: String,
    },
    /// No answer (connection refused, timeout, TLS).
    #[error("POST {endpoint}: {detail}")]
    Request { endpoint: String, detail: String },
}

/// The variable holding the alert endpoint's bearer token (`--alert-url` of `drift` and
/// `serve`).
pub const TOKEN_VAR: &str = "GITOPS_BOT_ALERT_TOKEN";

/// Parses an alert URL: absolute, `http` or `https`, with a host.
pub fn parse_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "only http and https alert URLs are supported, not {}:",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_string());
    }
    Ok(url)
}

/// `scheme://host[:port]/path`, without user information, query or fragment.
fn endpoint(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

pub struct AlertClient {
    url: Url,
    token: Option<Token>,
    http: reqwest::Client,
}

impl AlertClient {
    pub fn new(url: Url, token: Option<Token>) -> Result<Self, AlertError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("gitops-bot/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| AlertError::Request {
                endpoint: endpoint(&url),
                detail: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(AlertClient { url, token, http })
    }

    /// The endpoint as it may be printed.
    pub fn endpoint(&self) -> String {
        endpoint(&self.url)
    }

    /// POSTs `alert` once (a lost answer is not retried: the receiver may have taken it).
    pub async fn post<T: Serialize>(&self, alert: &T) -> Result<(), AlertError> {
        let mut request = self.http.post(self.url.clone()).json(alert);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }
        let response = request.send().await.map_err(|e| AlertError::Request {
            endpoint: self.endpoint(),
            detail: without_url(e),
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        let message: String = body.trim().chars().take(MAX_MESSAGE).collect();
        Err(AlertError::Status {
            endpoint: self.endpoint(),
            status: status.as_u16(),
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls() {
        assert!(parse_url("https://gitlab.example.com/g/p/alerts/notify/drift/1.json").is_ok());
        assert!(parse_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(parse_url("ftp://example.com/x").is_err());
        assert!(parse_url("file:///etc/passwd").is_err());
        assert!(parse_url("/relative").is_err());
    }

    #[test]
    fn the_endpoint_hides_credentials_and_query() {
        let url = parse_url("https://user:secret@hooks.example.com/a/b?token=s3cr3t#x");
        let shown = url.map(|u| endpoint(&u)).unwrap_or_default();
        assert_eq!(shown, "https://hooks.example.com/a/b");
    }
}
