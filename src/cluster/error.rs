//! Kubernetes API errors as people read them: one line naming the request, then the status
//! code once, the server's message and a hint that matches the status, e.g.
//! `get applications.argoproj.io "web" in namespace argocd: 404 NotFound:
//! applications.argoproj.io "web" not found — check the name and namespace`.
//!
//! [`describe`] is the one place that words an error `Status`; the rest of the crate goes
//! through [`Subject::error`] (a failed request) or [`error_text`] (a detail or a log line),
//! so no `kube::Error` reaches a person through its `Display`, which appends the `Status`'s
//! `Debug` form.

use kube::api::ApiResource;
use kube::core::Status;

use crate::http_status;
use crate::render::RenderError;

/// Every failure of a cluster step, worded for the job log and the merge request.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot configure the Kubernetes client: {0}")]
    Config(String),
    /// The API server answered the request with an error status.
    #[error("{request}: {text}")]
    Refused {
        /// `patch applications.argoproj.io "web" in namespace argocd`
        request: String,
        code: u16,
        /// [`describe`]'s line.
        text: String,
    },
    /// The request got no usable answer (connection, TLS, timeout, unreadable body).
    #[error("{request}: {detail}")]
    Unanswered { request: String, detail: String },
    #[error("{resource} is not served by this cluster (is its controller installed?): {detail}")]
    NotServed { resource: String, detail: String },
    /// What `sync --apply` was pointed at could not be read or rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// What `sync --apply` was pointed at renders to nothing.
    #[error("{path} holds no Kubernetes objects")]
    NoObjects { path: String },
    /// A rendered object's `apiVersion` has a group but no version (`apps/`).
    #[error("{origin}: apiVersion {api_version:?} has no version")]
    NoVersion {
        /// `file#document` the object came from.
        origin: String,
        api_version: String,
    },
    /// The server refused to apply one object, in the dry run or for real.
    #[error("{kind} {name} ({origin}) was refused{}: {refusal}", in_dry_run(*.dry_run))]
    ApplyRefused {
        kind: String,
        name: String,
        /// `file#document` the object came from.
        origin: String,
        dry_run: bool,
        refusal: Box<ClusterError>,
    },
    /// A watched object came without a `resourceVersion`, so the watch cannot resume.
    #[error("the server sent {kind} without a resourceVersion: cannot watch it")]
    NoResourceVersion { kind: String },
    /// Argo CD is running another operation on the Application (`operation` says which).
    #[error(
        "{operation}; not starting another sync. Wait for it to finish and run the job again, or use --observe-only"
    )]
    OperationRunning { operation: String },
    /// Every attempt to request the sync met a newer version of the object (409).
    #[error("{label} kept changing while the sync was requested; run the job again")]
    KeptChanging { label: String },
}

impl ClusterError {
    /// The HTTP status the API server answered, when it answered one.
    pub fn code(&self) -> Option<u16> {
        match self {
            ClusterError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }
}

fn in_dry_run(dry_run: bool) -> &'static str {
    if dry_run {
        " in the dry run; nothing was applied"
    } else {
        ""
    }
}

/// What a request was about, to word its errors.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    pub verb: &'a str,
    pub resource: &'a ApiResource,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
}

impl Subject<'_> {
    /// `applications.argoproj.io`, `deployments.apps`, `pods`.
    fn resource_name(&self) -> String {
        if self.resource.group.is_empty() {
            self.resource.plural.clone()
        } else {
            format!("{}.{}", self.resource.plural, self.resource.group)
        }
    }

    /// `patch applications.argoproj.io "web" in namespace argocd`
    pub fn request(&self) -> String {
        let name = self.name.map(|n| format!(" \"{n}\"")).unwrap_or_default();
        let scope = self
            .namespace
            .map(|ns| format!(" in namespace {ns}"))
            .unwrap_or_default();
        format!("{} {}{name}{scope}", self.verb, self.resource_name())
    }

    /// Turns `err` into a [`ClusterError`] naming this request.
    pub fn error(&self, err: kube::Error) -> ClusterError {
        let request = self.request();
        match err {
            kube::Error::Api(status) => ClusterError::Refused {
                request,
                code: status.code,
                text: describe(&status, Some(self)),
            },
            other => ClusterError::Unanswered {
                request,
                detail: error_text(&other),
            },
        }
    }

    /// The RBAC rule that allows this request, and where it goes.
    fn rbac_rule(&self) -> String {
        let verbs = match self.verb {
            // The watcher lists, then watches: one without the other does not work.
            "list" | "watch" => "\"list\", \"watch\"".to_string(),
            verb => format!("\"{verb}\""),
        };
        let role = match self.namespace {
            Some(ns) => format!("the Role bound to the bot's service account in namespace {ns}"),
            None => "the ClusterRole bound to the bot's service account".to_string(),
        };
        format!(
            "add this rule to {role}: apiGroups: [\"{}\"], resources: [\"{}\"], verbs: [{verbs}]",
            self.resource.group, self.resource.plural
        )
    }
}

/// A failed discovery of `what` (`API group argoproj.io`): "not served" only when the
/// cluster said so (404, or the group or kind missing from its answer); a refusal (401,
/// 403, 5xx) or no answer is said as it is, not blamed on a missing controller.
pub fn discovery_error(what: &str, resource: String, err: kube::Error) -> ClusterError {
    match err {
        kube::Error::Api(status) if status.code == 404 => ClusterError::NotServed {
            resource,
            detail: status_line(&status),
        },
        kube::Error::Api(status) => ClusterError::Refused {
            request: format!("discover {what}"),
            code: status.code,
            text: describe(&status, None),
        },
        kube::Error::Discovery(missing) => ClusterError::NotServed {
            resource,
            detail: missing.to_string(),
        },
        other => ClusterError::Unanswered {
            request: format!("discover {what}"),
            detail: error_text(&other),
        },
    }
}

/// One line for an error `Status`: `<code> <reason>: <message> — <hint>`. The hint follows
/// the status (and names the RBAC rule to add for a 403 when `subject` is known).
pub fn describe(status: &Status, subject: Option<&Subject<'_>>) -> String {
    let line = status_line(status);
    match hint(status, subject) {
        Some(hint) => format!("{line} — {hint}"),
        None => line,
    }
}

/// `<code> <reason>: <message>`, without a hint.
pub fn status_line(status: &Status) -> String {
    // kube's own reason for an answer whose body is not a `Status` (a proxy's page).
    let reason = match status.reason.as_str() {
        "Failed to parse error data" => "",
        r => r,
    };
    http_status::line(status.code, reason, &status.message)
}

/// Any kube error on one line: a `Status` as [`status_line`] words it, others with their
/// causes (`HyperError: client error (Connect): tcp connect error: Connection refused`).
pub fn error_text(err: &kube::Error) -> String {
    if let kube::Error::Api(status) = err {
        return status_line(status);
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn hint(status: &Status, subject: Option<&Subject<'_>>) -> Option<String> {
    let message = status.message.to_ascii_lowercase();
    let named = subject.map_or_else(
        || status.details.as_ref().is_some_and(|d| !d.name.is_empty()),
        |s| s.name.is_some(),
    );
    let text = match status.code {
        400 => "the API server refused the request as malformed",
        401 => {
            "the cluster did not accept the credentials: check KUBE_TOKEN (or the kubeconfig's user) and that the token has not expired"
        }
        403 if message.contains("admission webhook") => {
            "an admission webhook denied the request: change the object to satisfy the policy named in the message"
        }
        403 => {
            return Some(match subject {
                Some(s) => s.rbac_rule(),
                None => "the bot's service account is not allowed to do this: grant it with a Role or ClusterRole".into(),
            });
        }
        404 if named => "check the name and namespace",
        404 => "the cluster does not serve this resource: is its CRD installed?",
        405 => "the API server does not allow this verb on this resource",
        409 if status.reason == "AlreadyExists" => "the object already exists",
        409 => "the object changed while it was being written: run the job again",
        410 => "the version asked for has expired: run the job again",
        415 => "the API server does not accept this patch format",
        422 => "the API server rejected the object: fix the field named in the message",
        429 => "the API server is throttling requests: retry later",
        500..=599 if message.contains("webhook") => {
            "a webhook failed: check the webhook service named in the message"
        }
        500..=599 => {
            "the API server (or a proxy in front of it) failed: retry later; if it persists, check the API server"
        }
        _ => return None,
    };
    Some(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applications() -> ApiResource {
        ApiResource {
            group: "argoproj.io".into(),
            version: "v1alpha1".into(),
            api_version: "argoproj.io/v1alpha1".into(),
            kind: "Application".into(),
            plural: "applications".into(),
        }
    }

    fn status(code: u16, reason: &str, message: &str) -> Status {
        Status::failure(message, reason).with_code(code)
    }

    #[test]
    fn every_status_is_one_line_with_the_code_once_and_a_matching_hint() {
        let apps = applications();
        let patch = Subject {
            verb: "patch",
            resource: &apps,
            namespace: Some("argocd"),
            name: Some("web"),
        };
        let watch_all = Subject {
            verb: "watch",
            resource: &apps,
            namespace: None,
            name: None,
        };
        let forbidden = "applications.argoproj.io \"web\" is forbidden: User \"sa\" cannot patch resource \"applications\" in API group \"argoproj.io\" in the namespace \"argocd\"";
        for (status, subject, want) in [
            (
                status(403, "Forbidden", forbidden),
                Some(&patch),
                format!(
                    "403 Forbidden: {forbidden} — add this rule to the Role bound to the bot's service account in namespace argocd: apiGroups: [\"argoproj.io\"], resources: [\"applications\"], verbs: [\"patch\"]"
                ),
            ),
            (
                status(403, "Forbidden", "applications.argoproj.io is forbidden"),
                Some(&watch_all),
                "403 Forbidden: applications.argoproj.io is forbidden — add this rule to the ClusterRole bound to the bot's service account: apiGroups: [\"argoproj.io\"], resources: [\"applications\"], verbs: [\"list\", \"watch\"]".into(),
            ),
            (
                status(403, "Forbidden", "admission webhook \"policy\" denied the request: no latest tags"),
                Some(&patch),
                "403 Forbidden: admission webhook \"policy\" denied the request: no latest tags — an admission webhook denied the request: change the object to satisfy the policy named in the message".into(),
            ),
            (
                status(404, "NotFound", "applications.argoproj.io \"web\" not found"),
                Some(&patch),
                "404 NotFound: applications.argoproj.io \"web\" not found — check the name and namespace".into(),
            ),
            (
                status(404, "NotFound", "the server could not find the requested resource"),
                Some(&watch_all),
                "404 NotFound: the server could not find the requested resource — the cluster does not serve this resource: is its CRD installed?".into(),
            ),
            (
                status(404, "Failed to parse error data", "404 page not found"),
                None,
                "404 page not found — the cluster does not serve this resource: is its CRD installed?".into(),
            ),
            (
                status(401, "Unauthorized", "Unauthorized"),
                Some(&patch),
                "401 Unauthorized — the cluster did not accept the credentials: check KUBE_TOKEN (or the kubeconfig's user) and that the token has not expired".into(),
            ),
            (
                status(409, "Conflict", "Operation cannot be fulfilled on applications.argoproj.io \"web\": the object has been modified"),
                Some(&patch),
                "409 Conflict: Operation cannot be fulfilled on applications.argoproj.io \"web\": the object has been modified — the object changed while it was being written: run the job again".into(),
            ),
            (
                status(422, "Invalid", "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1"),
                None,
                "422 Invalid: Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1 — the API server rejected the object: fix the field named in the message".into(),
            ),
            (
                status(429, "TooManyRequests", "too many requests"),
                None,
                "429 TooManyRequests — the API server is throttling requests: retry later".into(),
            ),
            (
                status(500, "InternalError", "Internal error occurred: failed calling webhook \"v.example.com\""),
                None,
                "500 InternalError: Internal error occurred: failed calling webhook \"v.example.com\" — a webhook failed: check the webhook service named in the message".into(),
            ),
            (
                status(503, "ServiceUnavailable", "the server is currently unable to handle the request"),
                None,
                "503 ServiceUnavailable: the server is currently unable to handle the request — the API server (or a proxy in front of it) failed: retry later; if it persists, check the API server".into(),
            ),
            (
                status(418, "", "teapot"),
                None,
                "418 I'm a teapot: teapot".into(),
            ),
        ] {
            let got = describe(&status, subject);
            assert_eq!(got, want);
            assert!(!got.contains('{') && !got.contains("Some("), "{got}");
        }
    }

    #[test]
    fn discovery_blames_a_missing_controller_only_when_the_cluster_says_so() {
        let err = |e| {
            discovery_error(
                "API group argoproj.io",
                "Application (argoproj.io)".into(),
                e,
            )
        };
        let missing = err(kube::Error::Discovery(
            kube::error::DiscoveryError::MissingApiGroup("argoproj.io".into()),
        ));
        assert_eq!(
            missing.to_string(),
            "Application (argoproj.io) is not served by this cluster (is its controller installed?): Missing Api Group: argoproj.io"
        );
        let refused = err(kube::Error::Api(Box::new(status(
            401,
            "Unauthorized",
            "Unauthorized",
        ))));
        assert_eq!(refused.code(), Some(401));
        assert_eq!(
            refused.to_string(),
            "discover API group argoproj.io: 401 Unauthorized — the cluster did not accept the credentials: check KUBE_TOKEN (or the kubeconfig's user) and that the token has not expired"
        );
    }

    #[test]
    fn each_failing_step_says_what_failed() {
        let refusal = || {
            Box::new(ClusterError::Refused {
                request: "patch configmaps \"a\" in namespace hello".into(),
                code: 422,
                text: "422 Invalid: bad".into(),
            })
        };
        for (err, want) in [
            (
                ClusterError::ApplyRefused {
                    kind: "ConfigMap".into(),
                    name: "a".into(),
                    origin: "deploy/cm.yaml#1".into(),
                    dry_run: true,
                    refusal: refusal(),
                },
                "ConfigMap a (deploy/cm.yaml#1) was refused in the dry run; nothing was applied: patch configmaps \"a\" in namespace hello: 422 Invalid: bad",
            ),
            (
                ClusterError::ApplyRefused {
                    kind: "ConfigMap".into(),
                    name: "a".into(),
                    origin: "deploy/cm.yaml#1".into(),
                    dry_run: false,
                    refusal: refusal(),
                },
                "ConfigMap a (deploy/cm.yaml#1) was refused: patch configmaps \"a\" in namespace hello: 422 Invalid: bad",
            ),
            (
                ClusterError::NoVersion {
                    origin: "x.yaml#2".into(),
                    api_version: "apps/".into(),
                },
                "x.yaml#2: apiVersion \"apps/\" has no version",
            ),
            (
                ClusterError::NoObjects {
                    path: "deploy".into(),
                },
                "deploy holds no Kubernetes objects",
            ),
            (
                ClusterError::OperationRunning {
                    operation: "Argo CD is running a sync of 0123456789ab".into(),
                },
                "Argo CD is running a sync of 0123456789ab; not starting another sync. Wait for it to finish and run the job again, or use --observe-only",
            ),
        ] {
            assert_eq!(err.to_string(), want);
            assert_eq!(err.code(), None);
        }
    }

    #[test]
    fn requests_name_the_verb_the_object_and_its_namespace() {
        let apps = applications();
        let subject = Subject {
            verb: "get",
            resource: &apps,
            namespace: Some("argocd"),
            name: Some("web"),
        };
        let err = subject.error(kube::Error::Api(Box::new(status(
            404,
            "NotFound",
            "applications.argoproj.io \"web\" not found",
        ))));
        assert_eq!(err.code(), Some(404));
        assert_eq!(
            err.to_string(),
            "get applications.argoproj.io \"web\" in namespace argocd: 404 NotFound: applications.argoproj.io \"web\" not found — check the name and namespace"
        );
    }
}
