//! The HTTP transport to GitLab's REST API v4: authentication, timeouts, retries and errors
//! that say what failed and what to do.
//!
//! Calls are [`Call`]s (method, path, parameters); this module sends them so that it owns the
//! policy: idempotent requests (GET, PUT, DELETE) are
//! retried with exponential backoff and jitter on 429, 502, 503, 504 and connection errors;
//! a POST is retried only when GitLab provably did not process it (429, or no connection). A
//! POST whose answer was lost is reported as [`GitlabError::Uncertain`] so the caller can
//! check what happened before repeating it. The token never appears in any output.

use std::fmt;
use std::time::Duration;

use super::call::Call;
use reqwest::{Method, StatusCode, header};
use serde::de::DeserializeOwned;
use url::Url;

use crate::http_status;

/// Attempts per request, the first included.
const ATTEMPTS: u32 = 5;
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response body read (JSON answers; archives pass their own cap).
pub(super) const MAX_BODY: u64 = 64 * 1024 * 1024;
/// Longest wait honoured from `Retry-After`/`RateLimit-Reset`; longer waits fail instead.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// A secret that cannot be printed by accident.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(value: String) -> Self {
        Token(value)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GitlabError {
    /// GitLab answered with an error status: `GET projects/…: 404 Project Not Found — hint`.
    #[error("{method} {endpoint}: {}{hint}", http_status::line(status.as_u16(), "", message))]
    Status {
        method: Method,
        endpoint: String,
        status: StatusCode,
        message: String,
        hint: String,
    },
    #[error("{method} {endpoint}: cannot reach GitLab: {detail}")]
    Transport {
        method: Method,
        endpoint: String,
        detail: String,
    },
    #[error(
        "{method} {endpoint}: the connection failed after the request was sent ({detail}); it may or may not have been applied"
    )]
    Uncertain {
        method: Method,
        endpoint: String,
        detail: String,
    },
    #[error("{method} {endpoint}: unexpected response: {detail}")]
    Decode {
        method: Method,
        endpoint: String,
        detail: String,
    },
    #[error("{endpoint}: {detail}")]
    Request { endpoint: String, detail: String },
}

impl GitlabError {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            GitlabError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// GitLab's own message, for callers that branch on it.
    pub fn message(&self) -> &str {
        match self {
            GitlabError::Status { message, .. } => message,
            _ => "",
        }
    }

    /// `404 Project Not Found`: the status and GitLab's message, the code once, no hint.
    pub fn status_line(&self) -> Option<String> {
        match self {
            GitlabError::Status {
                status, message, ..
            } => Some(http_status::line(status.as_u16(), "", message)),
            _ => None,
        }
    }
}

/// A raw response: status, headers and the whole body.
pub struct Response {
    pub status: StatusCode,
    pub headers: header::HeaderMap,
    pub body: bytes::Bytes,
}

#[derive(Clone)]
pub struct GitlabClient {
    api: Url,
    token: Token,
    http: reqwest::Client,
}

impl fmt::Debug for GitlabClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitlabClient")
            .field("api", &self.api.as_str())
            .finish_non_exhaustive()
    }
}

/// `https://gitlab.example.com`, `https://host/gitlab/` or `…/api/v4` → `…/api/v4/`.
pub fn api_base(given: &str) -> Result<Url, String> {
    let trimmed = given.trim();
    // Without `://`, `host:port` would parse as a URL whose scheme is the host.
    if !trimmed.contains("://") {
        return Err(format!(
            "GitLab URL {given:?} has no scheme: give the URL with http:// or https://, e.g. https://{trimmed}"
        ));
    }
    let mut url = Url::parse(trimmed).map_err(|e| format!("invalid GitLab URL {given:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("GitLab URL {given:?} must use http:// or https://"));
    }
    url.set_query(None);
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/').to_string();
    let path = if path.ends_with("/api/v4") {
        format!("{path}/")
    } else {
        format!("{path}/api/v4/")
    };
    url.set_path(&path);
    Ok(url)
}

impl GitlabClient {
    pub fn new(api: Url, token: Token) -> Result<Self, GitlabError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("gitops-bot/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| GitlabError::Request {
                endpoint: api.to_string(),
                detail: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(GitlabClient { api, token, http })
    }

    pub fn api_url(&self) -> &Url {
        &self.api
    }

    /// Sends `call` and decodes its JSON answer.
    pub async fn call<T: DeserializeOwned>(&self, call: &Call) -> Result<T, GitlabError> {
        let response = self.send(call, &[]).await?;
        serde_json::from_slice(&response.body).map_err(|e| GitlabError::Decode {
            method: call.method().clone(),
            endpoint: call.path().to_string(),
            detail: e.to_string(),
        })
    }

    /// Sends `call` with extra query parameters and returns the successful raw response.
    pub async fn send(
        &self,
        call: &Call,
        extra_query: &[(&str, String)],
    ) -> Result<Response, GitlabError> {
        let mut url = self
            .api
            .join(call.path())
            .map_err(|e| GitlabError::Request {
                endpoint: call.path().to_string(),
                detail: e.to_string(),
            })?;
        let body = call.place_params(&mut url);
        for (k, v) in extra_query {
            url.query_pairs_mut().append_pair(k, v);
        }
        self.execute(
            call.method().clone(),
            call.path(),
            url,
            body,
            REQUEST_TIMEOUT,
            MAX_BODY,
        )
        .await
    }

    /// A GET of an API path with its query, with its own timeout and size cap (archives,
    /// pages).
    pub async fn get_raw(
        &self,
        path: &str,
        query: &[(&str, String)],
        timeout: Duration,
        max_body: u64,
    ) -> Result<Response, GitlabError> {
        let mut url = self.api.join(path).map_err(|e| GitlabError::Request {
            endpoint: path.to_string(),
            detail: e.to_string(),
        })?;
        for (k, v) in query {
            url.query_pairs_mut().append_pair(k, v);
        }
        self.execute(Method::GET, path, url, None, timeout, max_body)
            .await
    }

    /// A GET of an arbitrary API path whose answer is JSON.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, GitlabError> {
        let response = self.get_raw(path, query, REQUEST_TIMEOUT, MAX_BODY).await?;
        serde_json::from_slice(&response.body).map_err(|e| GitlabError::Decode {
            method: Method::GET,
            endpoint: path.to_string(),
            detail: e.to_string(),
        })
    }

    async fn execute(
        &self,
        method: Method,
        path: &str,
        url: Url,
        body: Option<(&'static str, Vec<u8>)>,
        timeout: Duration,
        max_body: u64,
    ) -> Result<Response, GitlabError> {
        let idempotent = matches!(
            method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE
        );
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .header("PRIVATE-TOKEN", self.token.expose())
                .timeout(timeout);
            if let Some((mime, data)) = &body {
                request = request
                    .header(header::CONTENT_TYPE, *mime)
                    .body(data.clone());
            }
            let started = std::time::Instant::now();
            let outcome = match request.send().await {
                Ok(response) => match read_capped(response, max_body).await {
                    Ok(Some(r)) => Ok(r),
                    Ok(None) => {
                        return Err(GitlabError::Decode {
                            method,
                            endpoint: path.to_string(),
                            detail: format!("the answer is larger than {max_body} bytes"),
                        });
                    }
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            let last = attempt >= ATTEMPTS;
            tracing::debug!(
                %method,
                endpoint = path,
                status = outcome.as_ref().map(|r| r.status.as_u16()).unwrap_or(0),
                bytes = outcome.as_ref().map(|r| r.body.len()).unwrap_or(0),
                ms = started.elapsed().as_millis() as u64,
                attempt,
                "GitLab request"
            );
            match outcome {
                Ok(response) if response.status.is_success() => return Ok(response),
                Ok(response) => {
                    let retryable = response.status == StatusCode::TOO_MANY_REQUESTS
                        || (idempotent && matches!(response.status.as_u16(), 502..=504));
                    let wait = retry_wait(&response.headers, attempt);
                    if retryable && !last && wait <= MAX_RETRY_WAIT {
                        tracing::warn!(%method, endpoint = path, status = %response.status, attempt, wait_ms = wait.as_millis() as u64, "GitLab asked to retry");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(status_error(method, path, &response));
                }
                Err(e) => {
                    // A connection that was never made carries no request: safe to resend.
                    let unsent = e.is_connect();
                    if (idempotent || unsent) && !last {
                        let wait = backoff(attempt);
                        tracing::warn!(%method, endpoint = path, attempt, error = %e, "GitLab unreachable, retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    let detail = without_url(e);
                    return Err(if idempotent || unsent {
                        GitlabError::Transport {
                            method,
                            endpoint: path.to_string(),
                            detail,
                        }
                    } else {
                        GitlabError::Uncertain {
                            method,
                            endpoint: path.to_string(),
                            detail,
                        }
                    });
                }
            }
        }
    }
}

/// Reads the body chunk by chunk, giving up (`None`) past `max` bytes.
async fn read_capped(
    mut response: reqwest::Response,
    max: u64,
) -> Result<Option<Response>, reqwest::Error> {
    let status = response.status();
    let headers = response.headers().clone();
    if response.content_length().is_some_and(|n| n > max) {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() as u64 + chunk.len() as u64 > max {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(Response {
        status,
        headers,
        body: body.into(),
    }))
}

/// Exponential backoff with full jitter: up to 0.5 s, 1 s, 2 s, 4 s…
fn backoff(attempt: u32) -> Duration {
    let cap_ms = 500u64.saturating_mul(1 << attempt.saturating_sub(1).min(6));
    Duration::from_millis(fastrand::u64(cap_ms / 2..=cap_ms))
}

/// What the server asked for (`Retry-After` seconds, or `RateLimit-Reset` epoch), else backoff.
fn retry_wait(headers: &header::HeaderMap, attempt: u32) -> Duration {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    if let Some(secs) = number("retry-after") {
        return Duration::from_secs(secs);
    }
    if let Some(reset) = number("ratelimit-reset") {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        return Duration::from_secs(reset.saturating_sub(now));
    }
    backoff(attempt)
}

/// reqwest's error chain on one line, without the URL: reqwest errors print it, and ours
/// name the endpoint already.
pub(crate) fn without_url(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    detail
}

fn status_error(method: Method, path: &str, response: &Response) -> GitlabError {
    let hint = hint(response.status);
    GitlabError::Status {
        method,
        endpoint: path.to_string(),
        status: response.status,
        message: gitlab_message(&response.body),
        hint: if hint.is_empty() {
            String::new()
        } else {
            format!(" — {hint}")
        },
    }
}

/// What to do about an error status, in general terms (callers that know more, like the
/// deployment record, word their own).
fn hint(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => {
            "GitLab refused the token: set GITLAB_TOKEN to a valid, unexpired project or group access token with the `api` scope"
        }
        403 => {
            "the token may not do this: it needs the `api` scope and at least the Developer role on the config project (CI_JOB_TOKEN cannot create commits, merge requests or notes)"
        }
        404 => {
            "not found: check --project (a numeric ID or the full path, e.g. group/helloworld-ops) and that the token's user is a member of the project (GitLab answers 404 for projects it hides from the user)"
        }
        409 => {
            "conflict: the branch or merge request changed meanwhile, or already exists; run the job again"
        }
        422 => "GitLab could not process the request: change what its message names",
        429 => "GitLab's rate limit: retry later",
        500..=599 => {
            "GitLab failed on its side: retry later; if it persists, check GitLab's health"
        }
        _ => "",
    }
}

/// GitLab puts its reason in `message` (a string, a list, or field → list) or `error`.
fn gitlab_message(body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        let text = String::from_utf8_lossy(body);
        return text
            .chars()
            .take(300)
            .collect::<String>()
            .trim()
            .to_string();
    };
    let flatten = |v: &serde_json::Value| -> String {
        match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join("; "),
            serde_json::Value::Object(fields) => fields
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        serde_json::Value::Array(items) => items
                            .iter()
                            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                            .collect::<Vec<_>>()
                            .join(", "),
                        other => other
                            .as_str()
                            .map_or_else(|| other.to_string(), str::to_string),
                    };
                    format!("{k} {v}")
                })
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        }
    };
    if let Some(m) = value.get("message") {
        return flatten(m);
    }
    match (value.get("error"), value.get("error_description")) {
        (Some(e), Some(d)) => format!("{}: {}", flatten(e), flatten(d)),
        (Some(e), None) => flatten(e),
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_base_accepts_server_and_api_urls() {
        for (given, want) in [
            (
                "https://gitlab.example.com",
                "https://gitlab.example.com/api/v4/",
            ),
            (
                "https://gitlab.example.com/",
                "https://gitlab.example.com/api/v4/",
            ),
            (
                "https://example.com/gitlab/api/v4",
                "https://example.com/gitlab/api/v4/",
            ),
            (
                "http://127.0.0.1:8080/api/v4/",
                "http://127.0.0.1:8080/api/v4/",
            ),
        ] {
            assert_eq!(api_base(given).unwrap().as_str(), want);
        }
        assert_eq!(
            api_base("ftp://x").unwrap_err(),
            "GitLab URL \"ftp://x\" must use http:// or https://"
        );
        assert!(api_base("not a url").is_err());
        for bare in ["127.0.0.1:34193", "localhost:8080", "gitlab.example.com"] {
            assert_eq!(
                api_base(bare).unwrap_err(),
                format!(
                    "GitLab URL \"{bare}\" has no scheme: give the URL with http:// or https://, e.g. https://{bare}"
                )
            );
        }
    }

    #[test]
    fn gitlab_messages_of_every_shape() {
        assert_eq!(
            gitlab_message(br#"{"message":"404 Project Not Found"}"#),
            "404 Project Not Found"
        );
        assert_eq!(
            gitlab_message(br#"{"message":["Another open merge request already exists for this source branch: !1"]}"#),
            "Another open merge request already exists for this source branch: !1"
        );
        assert_eq!(
            gitlab_message(
                br#"{"message":{"description":["is too long (maximum is 1048576 characters)"]}}"#
            ),
            "description is too long (maximum is 1048576 characters)"
        );
        assert_eq!(
            gitlab_message(br#"{"error":"insufficient_scope","error_description":"needs api"}"#),
            "insufficient_scope: needs api"
        );
        assert_eq!(
            gitlab_message(b"<html>Bad Gateway</html>"),
            "<html>Bad Gateway</html>"
        );
    }

    #[test]
    fn status_errors_say_the_code_once_with_a_matching_hint() {
        let response = |code: u16, body: &str| Response {
            status: StatusCode::from_u16(code).unwrap(),
            headers: header::HeaderMap::new(),
            body: bytes::Bytes::from(body.to_string()),
        };
        for (code, body, want) in [
            (
                401,
                r#"{"message":"401 Unauthorized"}"#,
                "GET projects/1: 401 Unauthorized — GitLab refused the token: set GITLAB_TOKEN to a valid, unexpired project or group access token with the `api` scope",
            ),
            (
                403,
                r#"{"error":"insufficient_scope","error_description":"needs api"}"#,
                "GET projects/1: 403 Forbidden: insufficient_scope: needs api — the token may not do this: it needs the `api` scope and at least the Developer role on the config project (CI_JOB_TOKEN cannot create commits, merge requests or notes)",
            ),
            (
                404,
                r#"{"message":"404 Not Found"}"#,
                "GET projects/1: 404 Not Found — not found: check --project (a numeric ID or the full path, e.g. group/helloworld-ops) and that the token's user is a member of the project (GitLab answers 404 for projects it hides from the user)",
            ),
            (
                409,
                r#"{"message":["Another open merge request already exists for this source branch: !1"]}"#,
                "GET projects/1: 409 Conflict: Another open merge request already exists for this source branch: !1 — conflict: the branch or merge request changed meanwhile, or already exists; run the job again",
            ),
            (
                422,
                r#"{"message":{"description":["is too long"]}}"#,
                "GET projects/1: 422 Unprocessable Entity: description is too long — GitLab could not process the request: change what its message names",
            ),
            (
                429,
                "Retry later\n",
                "GET projects/1: 429 Too Many Requests: Retry later — GitLab's rate limit: retry later",
            ),
            (
                502,
                r#"{"message":"502 Bad Gateway"}"#,
                "GET projects/1: 502 Bad Gateway — GitLab failed on its side: retry later; if it persists, check GitLab's health",
            ),
            (
                405,
                r#"{"message":"405 Method Not Allowed"}"#,
                "GET projects/1: 405 Method Not Allowed",
            ),
        ] {
            let err = status_error(Method::GET, "projects/1", &response(code, body));
            assert_eq!(err.to_string(), want);
        }
    }

    #[test]
    fn token_debug_is_redacted() {
        assert_eq!(
            format!("{:?}", Token::new("glpat-secret".into())),
            "Token([redacted])"
        );
    }

    #[test]
    fn retry_wait_honours_retry_after() {
        let mut h = header::HeaderMap::new();
        h.insert("retry-after", header::HeaderValue::from_static("7"));
        assert_eq!(retry_wait(&h, 1), Duration::from_secs(7));
        assert!(retry_wait(&header::HeaderMap::new(), 3) <= Duration::from_secs(2));
    }
}
