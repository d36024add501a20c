//! HTTP: authentication, the request log, and routing to discovery or to a
//! resource handler.
//!
//! Simulates: bearer-token authentication on every path (401 `Status`
//! otherwise), the API server's URL layout — `/version`, `/api`, `/api/v1`,
//! `/apis`, `/apis/{g}`, `/apis/{g}/{v}`, and under `/api/v1` or
//! `/apis/{g}/{v}`: `namespaces/{ns}/{plural}[/{name}[/status]]`,
//! `{plural}[/{name}[/status]]` for cluster-scoped kinds, and `{plural}` for
//! a list or watch across all namespaces — and the verb each method maps to
//! (a GET with `watch=true|1` is `watch`). Unknown paths are 404 `NotFound`;
//! a known path with a method it does not serve is 405.
//!
//! Does not simulate: TLS, client certificates, impersonation, the legacy
//! `/api/v1/watch/…` paths, subresources other than `status`, `Table` or
//! protobuf answers, `dryRun`, or any proxying.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{Method, header};
use serde_json::Value;

use super::kinds::{self, KINDS};
use super::rbac::Attributes;
use super::select::Filter;
use super::status::{self, ApiError};
use super::{LoggedRequest, Shared, handlers, watch};

/// Larger bodies are refused with 400.
const MAX_BODY: usize = 32 << 20;
/// A watch without `timeoutSeconds` ends after this.
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);
/// Longer `timeoutSeconds` are cut to this (a year), so deadlines never overflow.
const MAX_WATCH_TIMEOUT_SECS: u64 = 365 * 24 * 3600;

/// What a handler answers.
pub(crate) enum Reply {
    Json(u16, Value),
    /// A JSON body with another content type (aggregated discovery).
    Typed(u16, Value, &'static str),
    Watch(Body),
}

pub(crate) type Answer = Result<Reply, ApiError>;

/// One decoded request.
pub(crate) struct Req<'a> {
    pub method: &'a Method,
    pub params: Vec<(String, String)>,
    pub content_type: &'a str,
    pub accept: &'a str,
    pub user_agent: &'a str,
    pub body: &'a [u8],
}

impl Req<'_> {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of a boolean query flag (`true`/`1`).
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.param(name), Some("true" | "1"))
    }
}

/// Percent-decodes `s` (and `+` as a space in query strings).
pub(crate) fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

fn json_response(code: u16, body: &Value, content_type: &str) -> Response {
    let bytes = serde_json::to_vec(body).expect("a JSON value serializes");
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(bytes))
        .expect("a valid response")
}

fn header_str(parts: &http::request::Parts, name: header::HeaderName) -> &str {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let at = Instant::now();
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY).await;
    let body_bytes: &[u8] = bytes.as_ref().map(|b| b.as_ref()).unwrap_or(b"");
    let content_type = header_str(&parts, header::CONTENT_TYPE);
    let authorized = {
        let auth = header_str(&parts, header::AUTHORIZATION);
        match auth.split_once(' ') {
            Some((scheme, token)) => {
                scheme.eq_ignore_ascii_case("bearer") && token.trim() == shared.options.token
            }
            None => false,
        }
    };
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    if parts.method == Method::GET
        && parse_query(query)
            .iter()
            .any(|(k, v)| k == "watch" && (v == "true" || v == "1"))
    {
        // FakeKube::hold_watches: wait for the release (or the server's end).
        let mut held = shared.hold_watches.subscribe();
        let _ = held.wait_for(|hold| !*hold).await;
    }
    let answer = if bytes.is_err() {
        Err(status::bad_request("the request body could not be read"))
    } else if !authorized {
        Err(status::unauthorized())
    } else {
        let r = Req {
            method: &parts.method,
            params: parse_query(query),
            content_type,
            accept: header_str(&parts, header::ACCEPT),
            user_agent: header_str(&parts, header::USER_AGENT),
            body: body_bytes,
        };
        dispatch(&shared, path, &r)
    };
    let (code, response) = match answer {
        Ok(Reply::Json(code, v)) => (code, json_response(code, &v, "application/json")),
        Ok(Reply::Typed(code, v, ct)) => (code, json_response(code, &v, ct)),
        Ok(Reply::Watch(body)) => {
            let resp = Response::builder()
                .status(200)
                .header(header::CONTENT_TYPE, "application/json")
                .body(body)
                .expect("a valid response");
            (200, resp)
        }
        Err(e) => (e.code, json_response(e.code, &e.body, "application/json")),
    };
    shared.log_request(LoggedRequest {
        method: parts.method.as_str().to_string(),
        path: path.to_string(),
        query: query.to_string(),
        content_type: (!content_type.is_empty()).then(|| content_type.to_string()),
        body: String::from_utf8_lossy(body_bytes).into_owned(),
        status: code,
        at,
    });
    response
}

fn discovery(r: &Req<'_>, doc: Option<Value>) -> Answer {
    if r.method != Method::GET {
        return Err(status::method_not_allowed());
    }
    doc.map(|d| Reply::Json(200, d))
        .ok_or_else(status::no_route)
}

fn wants_aggregated(r: &Req<'_>) -> bool {
    r.accept.contains("as=APIGroupDiscoveryList")
}

fn dispatch(shared: &Arc<Shared>, path: &str, r: &Req<'_>) -> Answer {
    let segs: Vec<String> = path
        .split('/')
        .skip(1)
        .map(|s| percent_decode(s, false))
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    if segs.iter().any(|s| s.is_empty()) {
        return Err(status::no_route());
    }
    match segs.as_slice() {
        ["version"] => discovery(r, Some(kinds::version_info())),
        ["api"] | ["apis"] if wants_aggregated(r) && r.method == Method::GET => Ok(Reply::Typed(
            200,
            kinds::aggregated(segs[0] == "api"),
            kinds::AGGREGATED_CONTENT_TYPE,
        )),
        ["api"] => discovery(r, Some(kinds::core_versions(&shared.address.to_string()))),
        ["apis"] => discovery(r, Some(kinds::group_list())),
        ["api", version] => discovery(r, kinds::resource_list("", version)),
        ["apis", group] => discovery(r, kinds::group(group)),
        ["apis", group, version] => discovery(r, kinds::resource_list(group, version)),
        ["api", version, rest @ ..] => resource(shared, r, "", version, rest),
        ["apis", group, version, rest @ ..] => resource(shared, r, group, version, rest),
        _ => Err(status::no_route()),
    }
}

/// A path below a group version, resolved against the kinds table.
enum Target {
    Collection {
        namespace: Option<String>,
    },
    Object {
        namespace: Option<String>,
        name: String,
        sub: Option<String>,
    },
}

fn object(namespace: Option<&str>, tail: &[&str]) -> Option<Target> {
    let namespace = namespace.map(str::to_string);
    match tail {
        [] => Some(Target::Collection { namespace }),
        [name] => Some(Target::Object {
            namespace,
            name: name.to_string(),
            sub: None,
        }),
        [name, sub] => Some(Target::Object {
            namespace,
            name: name.to_string(),
            sub: Some(sub.to_string()),
        }),
        _ => None,
    }
}

fn resolve(group: &str, version: &str, rest: &[&str]) -> Option<(usize, Target)> {
    if let ["namespaces", ns, plural, tail @ ..] = rest
        && let Some(kind) =
            kinds::by_plural(group, version, plural).filter(|k| KINDS[*k].namespaced)
    {
        return Some((kind, object(Some(ns), tail)?));
    }
    let [plural, tail @ ..] = rest else {
        return None;
    };
    let kind = kinds::by_plural(group, version, plural)?;
    if KINDS[kind].namespaced && !tail.is_empty() {
        return None;
    }
    Some((kind, object(None, tail)?))
}

fn resource(
    shared: &Arc<Shared>,
    r: &Req<'_>,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Answer {
    let (kind, target) = resolve(group, version, rest).ok_or_else(status::no_route)?;
    let k = &KINDS[kind];
    match target {
        Target::Collection { namespace } => {
            let ns = namespace.as_deref();
            match *r.method {
                Method::GET => {
                    let filter = Filter::new(
                        kind,
                        k,
                        namespace.clone(),
                        r.param("fieldSelector"),
                        r.param("labelSelector"),
                    )
                    .map_err(|m| status::bad_request(&m))?;
                    let watching = r.flag("watch");
                    let verb = if watching { "watch" } else { "list" };
                    shared.authorize(&Attributes {
                        verb,
                        kind: k,
                        subresource: None,
                        namespace: ns,
                        name: filter.pinned_name(),
                    })?;
                    if watching {
                        start_watch(shared, r, filter)
                    } else {
                        handlers::list(shared, r, filter)
                    }
                }
                Method::POST => {
                    if k.namespaced && ns.is_none() {
                        return Err(status::method_not_allowed());
                    }
                    shared.authorize(&Attributes {
                        verb: "create",
                        kind: k,
                        subresource: None,
                        namespace: ns,
                        name: None,
                    })?;
                    handlers::create(shared, r, kind, ns)
                }
                Method::DELETE => {
                    let filter = Filter::new(
                        kind,
                        k,
                        namespace.clone(),
                        r.param("fieldSelector"),
                        r.param("labelSelector"),
                    )
                    .map_err(|m| status::bad_request(&m))?;
                    shared.authorize(&Attributes {
                        verb: "deletecollection",
                        kind: k,
                        subresource: None,
                        namespace: ns,
                        name: None,
                    })?;
                    handlers::delete_collection(shared, filter)
                }
                _ => Err(status::method_not_allowed()),
            }
        }
        Target::Object {
            namespace,
            name,
            sub,
        } => {
            let ns = namespace.as_deref();
            let sub = sub.as_deref();
            if sub.is_some_and(|s| s != "status" || !k.status_subresource) {
                return Err(status::no_route());
            }
            let verb = match *r.method {
                Method::GET => "get",
                Method::PUT => "update",
                Method::PATCH => "patch",
                Method::DELETE if sub.is_none() => "delete",
                _ => return Err(status::method_not_allowed()),
            };
            shared.authorize(&Attributes {
                verb,
                kind: k,
                subresource: sub,
                namespace: ns,
                name: Some(&name),
            })?;
            let at = handlers::At {
                kind,
                namespace: ns,
                name: &name,
                sub,
            };
            match verb {
                "get" => handlers::get(shared, &at),
                "update" => handlers::replace(shared, r, &at),
                "patch" => handlers::patch(shared, r, &at),
                _ => handlers::delete(shared, r, &at),
            }
        }
    }
}

fn start_watch(shared: &Arc<Shared>, r: &Req<'_>, filter: Filter) -> Answer {
    let start = match r.param("resourceVersion") {
        None | Some("") | Some("0") => watch::Start::Now,
        Some(rv) => watch::Start::After(
            rv.parse::<u64>()
                .map_err(|_| status::bad_request(&format!("invalid resource version: {rv:?}")))?,
        ),
    };
    let timeout = match r.param("timeoutSeconds") {
        None | Some("") | Some("0") => DEFAULT_WATCH_TIMEOUT,
        Some(t) => Duration::from_secs(
            t.parse::<u64>()
                .map_err(|_| status::bad_request(&format!("invalid timeoutSeconds: {t:?}")))?
                .min(MAX_WATCH_TIMEOUT_SECS),
        ),
    };
    let stream = watch::open(
        shared.clone(),
        watch::Params {
            filter,
            start,
            bookmarks: r.flag("allowWatchBookmarks"),
            send_initial_events: r.flag("sendInitialEvents"),
            timeout,
        },
    );
    Ok(Reply::Watch(Body::from_stream(stream)))
}
