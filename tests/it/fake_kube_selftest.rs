//! Self-test of the fake Kubernetes API server against the real `kube` client,
//! configured as the bot configures it (URL + bearer token, no kubeconfig).

use crate::fake_kube;

use std::time::Duration;

use fake_kube::{FakeKube, Options};
use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event as CoreEvent, Pod};
use kube::api::{
    Api, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(10);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A client built as the bot builds it. Call inside the runtime.
fn client_with_token(fake: &FakeKube, token: &str) -> Client {
    let mut config = kube::Config::new(fake.url().parse().expect("url"));
    config.auth_info.token = Some(token.to_string().into());
    Client::try_from(config).expect("client")
}

fn client(fake: &FakeKube) -> Client {
    client_with_token(fake, fake.token())
}

fn app(name: &str, ns: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": ns, "labels": {"team": "a"}},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example/x.git", "targetRevision": "main", "path": "."},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"}
        },
        "status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}
    })
}

fn deployment(name: &str, ns: &str, app_label: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app_label}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": app_label}},
            "template": {
                "metadata": {"labels": {"app": app_label}},
                "spec": {"containers": [{"name": "main", "image": "registry.example/app:1.0.0"}]}
            }
        }
    })
}

fn pod(name: &str, ns: &str, app_label: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app_label}},
        "spec": {"containers": [{"name": "main", "image": "registry.example/app:1.0.0"}]},
        "status": {"phase": "Running"}
    })
}

fn core_event(name: &str, ns: &str, object: &str, reason: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": {"kind": "Deployment", "name": object, "namespace": ns},
        "reason": reason,
        "message": format!("{reason} for {object}"),
        "type": "Normal"
    })
}

async fn app_api(client: &Client, ns: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application");
    let (ar, _caps) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .expect("discover Application");
    Api::namespaced_with(client.clone(), ns, &ar)
}

fn api_error(e: kube::Error) -> Box<kube::core::Status> {
    match e {
        kube::Error::Api(s) => s,
        other => panic!("expected kube::Error::Api, got {other:?}"),
    }
}

type Events<K> = mpsc::UnboundedReceiver<Result<watcher::Event<K>, watcher::Error>>;

/// Runs a watcher (with the default backoff, as the bot does) in a task.
fn spawn_watcher<K>(api: Api<K>, config: watcher::Config) -> Events<K>
where
    K: kube::Resource
        + Clone
        + std::fmt::Debug
        + k8s_openapi::serde::de::DeserializeOwned
        + Send
        + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = watcher(api, config).default_backoff().boxed();
        while let Some(ev) = stream.next().await {
            if tx.send(ev).is_err() {
                break;
            }
        }
    });
    rx
}

/// A watcher item (not `#[must_use]`: most callers only wait for it).
struct Seen<K>(Result<watcher::Event<K>, watcher::Error>);

/// The next watcher item satisfying `pred`; panics after `WAIT`.
async fn next_where<K: std::fmt::Debug>(
    rx: &mut Events<K>,
    what: &str,
    pred: impl Fn(&Result<watcher::Event<K>, watcher::Error>) -> bool,
) -> Seen<K> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ev)) if pred(&ev) => return Seen(ev),
            Ok(Some(_)) => {}
            Ok(None) => panic!("watcher ended while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

fn applied_with<K: kube::Resource>(
    ev: &Result<watcher::Event<K>, watcher::Error>,
    pred: impl Fn(&K) -> bool,
) -> bool {
    matches!(ev, Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) if pred(o))
}

fn label(o: &DynamicObject, key: &str) -> Option<String> {
    o.labels().get(key).cloned()
}

#[test]
fn discovery_and_version() {
    let fake = FakeKube::start(Options::default());
    runtime().block_on(async {
        let client = client(&fake);
        let info = client.apiserver_version().await.expect("version");
        assert_eq!(info.major, "1");

        let gvk = GroupVersionKind::gvk("apps", "v1", "Deployment");
        let (ar, caps) = kube::discovery::pinned_kind(&client, &gvk)
            .await
            .expect("Deployment");
        assert_eq!(ar.plural, "deployments");
        assert_eq!(ar.api_version, "apps/v1");
        assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
        assert!(caps.subresources.iter().any(|(r, _)| r.plural == "status"));
        assert!(caps.supports_operation(kube::discovery::verbs::PATCH));

        let gvk = GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application");
        let (ar, caps) = kube::discovery::pinned_kind(&client, &gvk)
            .await
            .expect("Application");
        assert_eq!(ar.plural, "applications");
        assert!(
            caps.subresources.is_empty(),
            "Argo CD's CRD has no status subresource"
        );

        let gvk = GroupVersionKind::gvk("", "v1", "Namespace");
        let (_, caps) = kube::discovery::pinned_kind(&client, &gvk)
            .await
            .expect("Namespace");
        assert_eq!(caps.scope, kube::discovery::Scope::Cluster);

        let missing = GroupVersionKind::gvk("example.com", "v1", "Nope");
        let err = kube::discovery::pinned_kind(&client, &missing)
            .await
            .unwrap_err();
        assert_eq!(api_error(err).code, 404);

        for discovery in [
            kube::Discovery::new(client.clone())
                .run()
                .await
                .expect("discovery"),
            kube::Discovery::new(client.clone())
                .run_aggregated()
                .await
                .expect("aggregated discovery"),
        ] {
            assert!(discovery.has_group("helm.toolkit.fluxcd.io"));
            let (ar, _) = discovery
                .resolve_gvk(&GroupVersionKind::gvk(
                    "source.toolkit.fluxcd.io",
                    "v1",
                    "GitRepository",
                ))
                .expect("GitRepository");
            assert_eq!(ar.plural, "gitrepositories");
            let (ar, _) = discovery
                .resolve_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"))
                .expect("ConfigMap");
            assert_eq!(ar.plural, "configmaps");
        }
    });
    // No request in the log carries the token.
    assert!(
        fake.requests()
            .iter()
            .all(|r| !r.query.contains(fake.token()))
    );
}

#[test]
fn wrong_token_is_401() {
    let fake = FakeKube::start(Options::default());
    runtime().block_on(async {
        let client = client_with_token(&fake, "not-the-token");
        let status = api_error(client.apiserver_version().await.unwrap_err());
        assert_eq!(status.code, 401);
        assert_eq!(status.reason, "Unauthorized");
    });
    assert!(fake.requests().iter().all(|r| r.status == 401));
}

#[test]
fn dynamic_get_merge_patch_and_server_side_apply() {
    let fake = FakeKube::start(Options::default());
    let stored = fake.put(app("helloworld", "argocd"));
    assert_eq!(stored["metadata"]["generation"], 1);
    let rv0: u64 = stored["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    runtime().block_on(async {
        let client = client(&fake);
        let api = app_api(&client, "argocd").await;

        let got = api.get("helloworld").await.expect("get");
        assert_eq!(got.data["spec"]["project"], "default");
        assert_eq!(got.types.as_ref().unwrap().kind, "Application");
        assert!(got.uid().is_some());

        // Merge patch of the spec bumps generation and resourceVersion.
        let patched = api
            .patch(
                "helloworld",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"source": {"targetRevision": "v2"}}})),
            )
            .await
            .expect("merge patch");
        assert_eq!(patched.data["spec"]["source"]["targetRevision"], "v2");
        assert_eq!(patched.data["spec"]["source"]["path"], ".", "merge keeps siblings");
        assert_eq!(patched.metadata.generation, Some(2));
        let rv1: u64 = patched.resource_version().unwrap().parse().unwrap();
        assert!(rv1 > rv0);

        // The same patch again is a no-op: same resourceVersion.
        let again = api
            .patch(
                "helloworld",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"source": {"targetRevision": "v2"}}})),
            )
            .await
            .expect("no-op patch");
        assert_eq!(again.resource_version(), patched.resource_version());

        // Server-side apply with force, as the bot does it.
        let applied = api
            .patch(
                "helloworld",
                &PatchParams::apply("gitops-bot").force(),
                &Patch::Apply(json!({
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "Application",
                    "metadata": {"name": "helloworld", "namespace": "argocd"},
                    "operation": {"sync": {"revision": "abc123"}, "initiatedBy": {"username": "gitops-bot"}}
                })),
            )
            .await
            .expect("apply");
        assert_eq!(applied.data["operation"]["sync"]["revision"], "abc123");
        assert_eq!(applied.data["spec"]["project"], "default", "apply merges into the live object");
        let managers: Vec<_> = applied
            .managed_fields()
            .iter()
            .map(|m| (m.manager.clone(), m.operation.clone()))
            .collect();
        assert!(managers.contains(&(Some("gitops-bot".into()), Some("Apply".into()))));
        let logged = fake.wait_for_request(WAIT, |r| {
            r.content_type.as_deref() == Some("application/apply-patch+yaml")
        });
        assert_eq!(logged.param("fieldManager").as_deref(), Some("gitops-bot"));
        assert_eq!(logged.param("force").as_deref(), Some("true"));

        // Apply creates a missing object (201).
        let created = api
            .patch(
                "new-app",
                &PatchParams::apply("gitops-bot"),
                &Patch::Apply(app("new-app", "argocd")),
            )
            .await
            .expect("apply-create");
        assert_eq!(created.metadata.generation, Some(1));
    });
    assert!(
        fake.get(
            "argoproj.io/v1alpha1",
            "Application",
            Some("argocd"),
            "new-app"
        )
        .is_some()
    );
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.method == "PATCH" && r.status == 201)
    );
}

#[test]
fn typed_lists_with_selectors_and_paging() {
    let fake = FakeKube::start(Options::default());
    fake.put(deployment("web", "prod", "web"));
    fake.put(deployment("api", "prod", "api"));
    fake.put(deployment("web", "staging", "web"));
    fake.put(pod("web-1", "prod", "web"));
    fake.put(pod("web-2", "staging", "web"));
    fake.put(pod("api-1", "prod", "api"));
    fake.put(core_event("web.1", "prod", "web", "ScalingReplicaSet"));
    fake.put(core_event("api.1", "prod", "api", "ScalingReplicaSet"));
    fake.put(core_event("web.2", "prod", "web", "Unhealthy"));
    runtime().block_on(async {
        let client = client(&fake);

        let deployments: Api<Deployment> = Api::namespaced(client.clone(), "prod");
        let list = deployments
            .list(&ListParams::default().labels("app=web"))
            .await
            .expect("deployments");
        assert_eq!(list.items.len(), 1);
        assert_eq!(list.items[0].name_any(), "web");
        assert!(list.metadata.resource_version.is_some());

        let all: Api<Deployment> = Api::all(client.clone());
        assert_eq!(
            all.list(&ListParams::default()).await.unwrap().items.len(),
            3
        );

        let pods: Api<Pod> = Api::all(client.clone());
        let web = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .expect("pods");
        let mut names: Vec<_> = web.items.iter().map(|p| p.name_any()).collect();
        names.sort();
        assert_eq!(names, ["web-1", "web-2"]);
        let running = pods
            .list(
                &ListParams::default()
                    .labels("app in (web,api),app!=api")
                    .fields("status.phase=Running"),
            )
            .await
            .expect("pods by set selector");
        assert_eq!(running.items.len(), 2);

        let events: Api<CoreEvent> = Api::namespaced(client.clone(), "prod");
        let for_web = events
            .list(
                &ListParams::default()
                    .fields("involvedObject.name=web,involvedObject.kind=Deployment"),
            )
            .await
            .expect("events");
        let mut reasons: Vec<_> = for_web
            .items
            .iter()
            .filter_map(|e| e.reason.clone())
            .collect();
        reasons.sort();
        assert_eq!(reasons, ["ScalingReplicaSet", "Unhealthy"]);

        // An unsupported field selector is 400, as on a real server.
        let err = events
            .list(&ListParams::default().fields("spec.nope=x"))
            .await
            .unwrap_err();
        assert_eq!(api_error(err).code, 400);

        // Paging: limit + continue.
        let page1 = all
            .list(&ListParams::default().limit(2))
            .await
            .expect("page 1");
        assert_eq!(page1.items.len(), 2);
        let token = page1.metadata.continue_.clone().expect("continue token");
        let page2 = all
            .list(&ListParams::default().limit(2).continue_token(&token))
            .await
            .expect("page 2");
        assert_eq!(page2.items.len(), 1);
        assert!(page2.metadata.continue_.is_none());
        assert_eq!(
            page1.metadata.resource_version,
            page2.metadata.resource_version
        );

        // A continue token older than a compaction is 410 Expired.
        let page1 = all
            .list(&ListParams::default().limit(1))
            .await
            .expect("page 1");
        fake.compact();
        let err = all
            .list(
                &ListParams::default()
                    .limit(1)
                    .continue_token(page1.metadata.continue_.as_deref().unwrap()),
            )
            .await
            .unwrap_err();
        assert_eq!(api_error(err).code, 410);

        // Typed create/replace/delete round trip.
        let mut d: Deployment = serde_json::from_value(deployment("new", "prod", "new")).unwrap();
        d.status = None;
        let created = deployments
            .create(&PostParams::default(), &d)
            .await
            .expect("create");
        assert_eq!(created.metadata.generation, Some(1));
        let err = deployments
            .create(&PostParams::default(), &d)
            .await
            .unwrap_err();
        let s = api_error(err);
        assert_eq!((s.code, s.reason.as_str()), (409, "AlreadyExists"));
        assert_eq!(s.message, "deployments.apps \"new\" already exists");
        let mut replaced = created.clone();
        replaced.spec.replicas = Some(3);
        let replaced = deployments
            .replace("new", &PostParams::default(), &replaced)
            .await
            .expect("replace");
        assert_eq!(replaced.metadata.generation, Some(2));
        let err = deployments
            .replace("new", &PostParams::default(), &created)
            .await
            .unwrap_err();
        assert_eq!(api_error(err).code, 409, "stale resourceVersion on PUT");
        deployments
            .delete("new", &Default::default())
            .await
            .expect("delete");
        let err = deployments.get("new").await.unwrap_err();
        let s = api_error(err);
        assert_eq!(s.code, 404);
        assert_eq!(s.message, "deployments.apps \"new\" not found");
    });
}

#[test]
fn watcher_sees_updates() {
    let fake = FakeKube::start(Options::default());
    fake.put(app("x", "argocd"));
    fake.put(app("other", "argocd"));
    let rt = runtime();
    rt.block_on(async {
        let client = client(&fake);
        let api = app_api(&client, "argocd").await;
        let mut rx = spawn_watcher(api, watcher::Config::default().fields("metadata.name=x"));
        next_where(&mut rx, "initial x", |ev| {
            applied_with(ev, |o: &DynamicObject| o.name_any() == "x")
        })
        .await;
        next_where(&mut rx, "init done", |ev| {
            matches!(ev, Ok(watcher::Event::InitDone))
        })
        .await;
        fake.wait_for_open_watches(1, WAIT);

        fake.update(
            "argoproj.io/v1alpha1",
            "Application",
            Some("argocd"),
            "other",
            |o| {
                o["metadata"]["labels"]["seen"] = json!("no");
            },
        );
        fake.update(
            "argoproj.io/v1alpha1",
            "Application",
            Some("argocd"),
            "x",
            |o| {
                o["metadata"]["labels"]["step"] = json!("1");
            },
        );
        let ev = next_where(&mut rx, "x step 1", |ev| {
            applied_with(ev, |o: &DynamicObject| {
                label(o, "step").as_deref() == Some("1")
            })
        })
        .await;
        if let Seen(Ok(watcher::Event::Apply(o))) = ev {
            assert_eq!(o.name_any(), "x", "the field selector filters the watch");
        }
    });
    // The watch asked for bookmarks and used the client's 290 s timeout.
    let w = fake.wait_for_request(WAIT, |r| r.is_watch());
    assert_eq!(w.param("allowWatchBookmarks").as_deref(), Some("true"));
    assert_eq!(w.param("fieldSelector").as_deref(), Some("metadata.name=x"));
    assert_eq!(w.param("timeoutSeconds").as_deref(), Some("290"));
    let list = fake.wait_for_request(WAIT, |r| r.method == "GET" && r.param("limit").is_some());
    assert_eq!(list.param("limit").as_deref(), Some("500"));
    assert!(fake.events_sent() >= 1);
}

#[test]
fn watcher_resumes_after_dropped_stream() {
    let fake = FakeKube::start(Options::default());
    fake.put(app("x", "argocd"));
    runtime().block_on(async {
        let client = client(&fake);
        let api = app_api(&client, "argocd").await;
        let mut rx = spawn_watcher(api, watcher::Config::default().fields("metadata.name=x"));
        next_where(&mut rx, "init done", |ev| {
            matches!(ev, Ok(watcher::Event::InitDone))
        })
        .await;
        fake.wait_for_open_watches(1, WAIT);

        fake.drop_watches();
        fake.update(
            "argoproj.io/v1alpha1",
            "Application",
            Some("argocd"),
            "x",
            |o| {
                o["metadata"]["labels"]["step"] = json!("after-drop");
            },
        );
        next_where(&mut rx, "update after drop", |ev| {
            applied_with(ev, |o: &DynamicObject| {
                label(o, "step").as_deref() == Some("after-drop")
            })
        })
        .await;

        // Cut again right after the next event: it is delivered, then the
        // stream breaks, and the one after is still seen.
        fake.wait_for_open_watches(1, WAIT);
        fake.drop_watches_after(1);
        fake.update(
            "argoproj.io/v1alpha1",
            "Application",
            Some("argocd"),
            "x",
            |o| {
                o["metadata"]["labels"]["step"] = json!("a");
            },
        );
        next_where(&mut rx, "step a", |ev| {
            applied_with(ev, |o: &DynamicObject| {
                label(o, "step").as_deref() == Some("a")
            })
        })
        .await;
        fake.update(
            "argoproj.io/v1alpha1",
            "Application",
            Some("argocd"),
            "x",
            |o| {
                o["metadata"]["labels"]["step"] = json!("b");
            },
        );
        next_where(&mut rx, "step b", |ev| {
            applied_with(ev, |o: &DynamicObject| {
                label(o, "step").as_deref() == Some("b")
            })
        })
        .await;
    });
    let watches = fake.requests().iter().filter(|r| r.is_watch()).count();
    assert!(
        watches >= 3,
        "the watch was re-established after each cut ({watches} watches)"
    );
    // Resumed watches start from a resourceVersion, not from scratch.
    assert!(
        fake.requests()
            .iter()
            .filter(|r| r.is_watch())
            .all(|r| r.param("resourceVersion").is_some_and(|rv| rv != "0"))
    );
}

#[test]
fn watcher_relists_after_410() {
    // No bookmarks, so the watcher's resourceVersion stays behind.
    let fake = FakeKube::start(Options {
        bookmark_interval: Duration::from_secs(3600),
        ..Options::default()
    });
    fake.put(app("x", "argocd"));
    fake.put(app("y", "argocd"));
    runtime().block_on(async {
        let client = client(&fake);
        let api = app_api(&client, "argocd").await;
        let mut rx = spawn_watcher(api, watcher::Config::default().fields("metadata.name=x"));
        next_where(&mut rx, "init done", |ev| {
            matches!(ev, Ok(watcher::Event::InitDone))
        })
        .await;
        fake.wait_for_open_watches(1, WAIT);

        for i in 0..3 {
            fake.update(
                "argoproj.io/v1alpha1",
                "Application",
                Some("argocd"),
                "y",
                |o| {
                    o["metadata"]["labels"]["n"] = json!(i.to_string());
                },
            );
        }
        fake.compact();
        fake.drop_watches();

        let Seen(err) = next_where(&mut rx, "410", |ev| ev.is_err()).await;
        match err {
            Err(watcher::Error::WatchError(s)) => {
                assert_eq!(s.code, 410);
                assert_eq!(s.reason, "Expired");
                assert!(
                    s.message.starts_with("too old resource version: "),
                    "{}",
                    s.message
                );
            }
            other => panic!("expected a 410 watch error, got {other:?}"),
        }
        next_where(&mut rx, "re-list", |ev| {
            matches!(ev, Ok(watcher::Event::Init))
        })
        .await;
        next_where(&mut rx, "x relisted", |ev| {
            applied_with(ev, |o: &DynamicObject| o.name_any() == "x")
        })
        .await;
        next_where(&mut rx, "init done", |ev| {
            matches!(ev, Ok(watcher::Event::InitDone))
        })
        .await;

        fake.update(
            "argoproj.io/v1alpha1",
            "Application",
            Some("argocd"),
            "x",
            |o| {
                o["metadata"]["labels"]["after"] = json!("relist");
            },
        );
        next_where(&mut rx, "update after relist", |ev| {
            applied_with(ev, |o: &DynamicObject| {
                label(o, "after").as_deref() == Some("relist")
            })
        })
        .await;
    });
}

#[test]
fn forbidden_conflict_and_other_errors() {
    let fake = FakeKube::start(Options::default());
    fake.put(app("helloworld", "argocd"));
    fake.forbid("patch", "argoproj.io", "applications", Some("argocd"));
    fake.forbid("list", "", "pods", None);
    runtime().block_on(async {
        let client = client(&fake);
        let api = app_api(&client, "argocd").await;

        let err = api
            .patch(
                "helloworld",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"project": "x"}})),
            )
            .await
            .unwrap_err();
        let s = api_error(err);
        assert_eq!(s.code, 403);
        assert_eq!(s.reason, "Forbidden");
        assert_eq!(
            s.message,
            "applications.argoproj.io \"helloworld\" is forbidden: User \"system:serviceaccount:gitops:gitops-bot\" \
             cannot patch resource \"applications\" in API group \"argoproj.io\" in the namespace \"argocd\""
        );
        let d = s.details.as_ref().expect("details");
        assert_eq!((d.name.as_str(), d.group.as_str(), d.kind.as_str()), ("helloworld", "argoproj.io", "applications"));

        let pods: Api<Pod> = Api::all(client.clone());
        let s = api_error(pods.list(&ListParams::default()).await.unwrap_err());
        assert_eq!(
            s.message,
            "pods is forbidden: User \"system:serviceaccount:gitops:gitops-bot\" cannot list resource \"pods\" \
             in API group \"\" at the cluster scope"
        );
        fake.allow_all();

        // Stale resourceVersion in a merge patch: 409 Conflict.
        let current = api.get("helloworld").await.unwrap();
        let stale = current.resource_version().unwrap();
        fake.update("argoproj.io/v1alpha1", "Application", Some("argocd"), "helloworld", |o| {
            o["status"]["sync"]["status"] = json!("OutOfSync");
        });
        let err = api
            .patch(
                "helloworld",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"resourceVersion": stale}, "spec": {"project": "x"}})),
            )
            .await
            .unwrap_err();
        let s = api_error(err);
        assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
        assert_eq!(
            s.message,
            "Operation cannot be fulfilled on applications.argoproj.io \"helloworld\": the object has been modified; \
             please apply your changes to the latest version and try again"
        );

        let s = api_error(api.get("missing").await.unwrap_err());
        assert_eq!((s.code, s.reason.as_str()), (404, "NotFound"));
        assert_eq!(s.message, "applications.argoproj.io \"missing\" not found");

        // Raw requests the typed client would refuse to send.
        let raw = |method: &str, uri: &str, ct: &str, body: &str| {
            http::Request::builder()
                .method(method)
                .uri(uri)
                .header("content-type", ct)
                .body(body.as_bytes().to_vec())
                .unwrap()
        };
        let path = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/helloworld";
        let cases = [
            (raw("PATCH", path, "application/apply-patch+yaml", "{}"), 422),
            (raw("PATCH", path, "application/strategic-merge-patch+json", "{}"), 415),
            (raw("PATCH", path, "application/merge-patch+json", "{not json"), 400),
            (raw("PATCH", path, "application/merge-patch+json", "[1]"), 400),
            (raw("PATCH", path, "application/json-patch+json", r#"[{"op":"test","path":"/spec/project","value":"nope"}]"#), 422),
            (raw("POST", "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications", "application/json", "{\"metadata\":{\"name\":\"Bad_Name\"}}"), 422),
            (raw("POST", "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications", "application/json", "\u{0}\u{1}"), 400),
            (raw("GET", "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications?watch=1&resourceVersion=abc", "", ""), 400),
            (raw("GET", "/apis/argoproj.io/v1alpha1/applications?labelSelector=a%20in%20(b", "", ""), 400),
            (raw("GET", "/apis/argoproj.io/v1alpha1/applications?limit=-1", "", ""), 400),
            (raw("GET", "/apis/argoproj.io/v1alpha1/applications?limit=1&continue=garbage", "", ""), 400),
            (raw("GET", "/apis/argoproj.io/v1alpha1/applications/helloworld", "", ""), 404),
            (raw("GET", "/apis/nope.example/v1/things", "", ""), 404),
            (raw("GET", "/api/v1/namespaces/argocd/pods/x/exec", "", ""), 404),
            (raw("GET", "/%zz/%", "", ""), 404),
            (raw("PUT", "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/helloworld", "application/json", "{\"metadata\":{\"name\":\"helloworld\"}}"), 422),
            (raw("POST", "/apis/apps/v1/deployments", "application/json", "{}"), 405),
            (raw("DELETE", path, "application/json", "{\"preconditions\":{\"uid\":\"nope\"}}"), 409),
        ];
        for (req, want) in cases {
            let what = format!("{} {}", req.method(), req.uri());
            let s = api_error(client.request_text(req).await.unwrap_err());
            assert_eq!(s.code, want, "{what}: {}", s.message);
        }
        // The server is still fine.
        assert_eq!(api.get("helloworld").await.unwrap().name_any(), "helloworld");
    });
}

#[test]
fn raw_watch_bookmarks_timeout_and_selector_transitions() {
    let fake = FakeKube::start(Options {
        bookmark_interval: Duration::from_millis(50),
        ..Options::default()
    });
    fake.put(deployment("web", "prod", "web"));
    runtime().block_on(async {
        let client = client(&fake);
        let api: Api<Deployment> = Api::namespaced(client.clone(), "prod");

        // resourceVersion "0": ADDED for what exists, bookmarks, clean end after timeoutSeconds.
        let started = std::time::Instant::now();
        let events: Vec<_> = api
            .watch(&WatchParams::default().labels("app=web").timeout(1), "0")
            .await
            .expect("watch")
            .collect()
            .await;
        assert!(started.elapsed() >= Duration::from_millis(900));
        assert!(matches!(events.first(), Some(Ok(WatchEvent::Added(d))) if d.name_any() == "web"));
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Ok(WatchEvent::Bookmark(_))))
        );
        assert!(events.iter().all(|e| e.is_ok()));

        // Without allowWatchBookmarks there are none.
        let events: Vec<_> = api
            .watch(&WatchParams::default().disable_bookmarks().timeout(1), "0")
            .await
            .expect("watch")
            .collect()
            .await;
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Ok(WatchEvent::Bookmark(_))))
        );

        // From a resourceVersion: replay, and selector transitions become ADDED/DELETED.
        let rv = fake.resource_version().to_string();
        fake.update("apps/v1", "Deployment", Some("prod"), "web", |d| {
            d["metadata"]["labels"]["app"] = json!("moved");
        });
        fake.update("apps/v1", "Deployment", Some("prod"), "web", |d| {
            d["metadata"]["labels"]["app"] = json!("web");
        });
        fake.update("apps/v1", "Deployment", Some("prod"), "web", |d| {
            d["status"] = json!({"replicas": 1});
        });
        fake.delete("apps/v1", "Deployment", Some("prod"), "web");
        let events: Vec<_> = api
            .watch(
                &WatchParams::default()
                    .labels("app=web")
                    .disable_bookmarks()
                    .timeout(1),
                &rv,
            )
            .await
            .expect("watch")
            .collect()
            .await;
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| match e {
                Ok(WatchEvent::Added(_)) => "ADDED",
                Ok(WatchEvent::Modified(_)) => "MODIFIED",
                Ok(WatchEvent::Deleted(_)) => "DELETED",
                Ok(WatchEvent::Bookmark(_)) => "BOOKMARK",
                Ok(WatchEvent::Error(_)) => "ERROR",
                Err(_) => "ERR",
            })
            .collect();
        assert_eq!(kinds, ["DELETED", "ADDED", "MODIFIED", "DELETED"]);

        // Status changes do not bump a Deployment's generation.
        let stored = fake.put(deployment("g", "prod", "g"));
        assert_eq!(stored["metadata"]["generation"], 1);
        let after = fake.update("apps/v1", "Deployment", Some("prod"), "g", |d| {
            d["status"] = json!({"readyReplicas": 1});
        });
        assert_eq!(after["metadata"]["generation"], 1);

        // Streaming lists (sendInitialEvents) work with the runtime watcher too.
        let mut rx = spawn_watcher(api.clone(), watcher::Config::default().streaming_lists());
        next_where(&mut rx, "streamed g", |ev| {
            applied_with(ev, |d: &Deployment| d.name_any() == "g")
        })
        .await;
        next_where(&mut rx, "init done", |ev| {
            matches!(ev, Ok(watcher::Event::InitDone))
        })
        .await;
    });
}

#[test]
fn simulated_argocd_controller() {
    let fake = FakeKube::start(Options::default());
    fake.put(app("helloworld", "argocd"));
    std::thread::scope(|s| {
        // The "controller": waits for the bot's sync operation, then walks
        // the status through Running to Succeeded and clears the operation.
        s.spawn(|| {
            let gvk = (
                "argoproj.io/v1alpha1",
                "Application",
                Some("argocd"),
                "helloworld",
            );
            let app = fake.wait_for(gvk.0, gvk.1, gvk.2, gvk.3, WAIT, |a| {
                !a["operation"].is_null()
            });
            let revision = app["operation"]["sync"]["revision"]
                .as_str()
                .unwrap()
                .to_string();
            fake.update(gvk.0, gvk.1, gvk.2, gvk.3, |a| {
                a["status"]["operationState"] =
                    json!({"phase": "Running", "operation": a["operation"].clone()});
                a["status"]["sync"]["status"] = json!("OutOfSync");
            });
            std::thread::sleep(Duration::from_millis(100));
            fake.update(gvk.0, gvk.1, gvk.2, gvk.3, |a| {
                a.as_object_mut().unwrap().remove("operation");
                a["status"]["operationState"]["phase"] = json!("Succeeded");
                a["status"]["sync"] = json!({"status": "Synced", "revision": revision});
            });
        });
        runtime().block_on(async {
            let client = client(&fake);
            let api = app_api(&client, "argocd").await;
            let mut rx = spawn_watcher(
                api.clone(),
                watcher::Config::default().fields("metadata.name=helloworld"),
            );
            next_where(&mut rx, "init done", |ev| {
                matches!(ev, Ok(watcher::Event::InitDone))
            })
            .await;
            api.patch(
                "helloworld",
                &PatchParams::default(),
                &Patch::Merge(json!({"operation": {"sync": {"revision": "deadbeef"}}})),
            )
            .await
            .expect("trigger sync");
            let phase = |o: &DynamicObject| {
                o.data["status"]["operationState"]["phase"]
                    .as_str()
                    .map(str::to_string)
            };
            next_where(&mut rx, "Running", |ev| {
                applied_with(ev, |o| phase(o).as_deref() == Some("Running"))
            })
            .await;
            let done = next_where(&mut rx, "Succeeded", |ev| {
                applied_with(ev, |o| phase(o).as_deref() == Some("Succeeded"))
            })
            .await;
            if let Seen(Ok(watcher::Event::Apply(o))) = done {
                assert_eq!(o.data["status"]["sync"]["revision"], "deadbeef");
                assert!(o.data.get("operation").is_none());
            }
        });
    });
}

/// Sends one raw HTTP/1.1 request and returns everything read until the
/// server closes the connection (`after_first_event` runs once the first
/// watch event has arrived).
fn raw_http(fake: &FakeKube, path: &str, after_first_event: impl FnOnce()) -> String {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(fake.address()).expect("connect");
    conn.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        fake.token()
    )
    .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let mut hook = Some(after_first_event);
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            // An aborted connection may also end in a reset.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read: {e}"),
        }
        if String::from_utf8_lossy(&seen).contains("\"type\":\"")
            && let Some(f) = hook.take()
        {
            f();
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

#[test]
fn wire_format_of_watches() {
    let fake = FakeKube::start(Options::default());
    fake.put(deployment("web", "prod", "web"));
    let base = "/apis/apps/v1/namespaces/prod/deployments?watch=true";

    // A watch that times out ends with the terminating chunk.
    let clean = raw_http(
        &fake,
        &format!("{base}&resourceVersion=0&timeoutSeconds=1"),
        || {},
    );
    let lower = clean.to_ascii_lowercase();
    assert!(lower.starts_with("http/1.1 200"), "{clean}");
    assert!(lower.contains("transfer-encoding: chunked"), "{clean}");
    assert!(lower.contains("content-type: application/json"), "{clean}");
    let added: Value = serde_json::from_str(
        clean
            .lines()
            .find(|l| l.starts_with("{\"type\":\"ADDED\","))
            .expect("an ADDED line"),
    )
    .expect("event JSON");
    assert_eq!(added["object"]["apiVersion"], "apps/v1");
    assert_eq!(added["object"]["kind"], "Deployment");
    assert_eq!(added["object"]["metadata"]["name"], "web");
    assert!(clean.ends_with("0\r\n\r\n"), "{clean}");

    // A dropped watch is cut without it.
    let cut = raw_http(&fake, &format!("{base}&resourceVersion=0"), || {
        fake.drop_watches()
    });
    assert!(cut.contains("\"type\":\"ADDED\""), "{cut}");
    assert!(!cut.ends_with("0\r\n\r\n"), "{cut}");

    // A watch from before a compaction: 200, one ERROR event with a 410 Status, end.
    let old = fake.resource_version();
    fake.update("apps/v1", "Deployment", Some("prod"), "web", |d| {
        d["spec"]["replicas"] = json!(2)
    });
    fake.compact();
    let gone = raw_http(&fake, &format!("{base}&resourceVersion={old}"), || {});
    assert!(
        gone.to_ascii_lowercase().starts_with("http/1.1 200"),
        "{gone}"
    );
    let line = gone
        .lines()
        .find(|l| l.starts_with("{\"type\":"))
        .expect("an event line");
    let ev: Value = serde_json::from_str(line).expect("event JSON");
    assert_eq!(ev["type"], "ERROR");
    assert_eq!(
        ev["object"],
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("too old resource version: {old} ({})", old + 1),
            "reason": "Expired", "code": 410
        })
    );
    assert!(gone.ends_with("0\r\n\r\n"));
    assert_eq!(fake.open_watches(), 0);
}

/// One raw request with a body; returns the status code (panics if the
/// server closed the connection without answering, as a handler panic would).
fn raw_status(fake: &FakeKube, method: &str, path: &str, content_type: &str, body: &[u8]) -> u16 {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(fake.address()).expect("connect");
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        fake.token(),
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(body).unwrap();
    let mut first = [0u8; 12];
    conn.read_exact(&mut first)
        .unwrap_or_else(|e| panic!("no answer to {method} {path}: {e}"));
    let line = String::from_utf8_lossy(&first).into_owned();
    line[9..12]
        .parse()
        .unwrap_or_else(|_| panic!("bad status line {line:?}"))
}

#[test]
fn hostile_input_never_breaks_the_server() {
    let fake = FakeKube::start(Options::default());
    fake.put(app("a", "argocd"));
    fake.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}}));
    let obj = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/a";
    let coll = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications";
    let merge = "application/merge-patch+json";
    let jp = "application/json-patch+json";
    let apply = "application/apply-patch+yaml";
    let deep = format!("{}{}", "[".repeat(500), "]".repeat(500));
    let cases: Vec<(&str, String, &str, Vec<u8>)> = vec![
        (
            "PATCH",
            obj.into(),
            jp,
            br#"[{"op":"add","path":"","value":[1]}]"#.to_vec(),
        ),
        (
            "PATCH",
            obj.into(),
            jp,
            br#"[{"op":"move","from":"/spec","path":""}]"#.to_vec(),
        ),
        (
            "PATCH",
            obj.into(),
            jp,
            br#"[{"op":"remove","path":"/metadata"}]"#.to_vec(),
        ),
        (
            "PATCH",
            obj.into(),
            jp,
            br#"[{"op":"add","path":"/spec/x/y/z","value":1}]"#.to_vec(),
        ),
        (
            "PATCH",
            obj.into(),
            jp,
            br#"[{"op":"add","path":"/metadata/finalizers/99","value":1}]"#.to_vec(),
        ),
        ("PATCH", obj.into(), jp, br#"{"op":"add"}"#.to_vec()),
        ("PATCH", obj.into(), merge, br#"{"metadata":5}"#.to_vec()),
        (
            "PATCH",
            obj.into(),
            merge,
            br#"{"metadata":{"finalizers":"x","labels":[1]}}"#.to_vec(),
        ),
        (
            "PATCH",
            obj.into(),
            merge,
            br#"{"metadata":{"resourceVersion":12}}"#.to_vec(),
        ),
        ("PATCH", obj.into(), merge, deep.clone().into_bytes()),
        ("PATCH", obj.into(), merge, vec![0xff, 0xfe, 0x00]),
        (
            "PATCH",
            obj.into(),
            apply,
            br#"{"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":[]}"#.to_vec(),
        ),
        (
            "PATCH",
            format!("{obj}?fieldManager=x"),
            apply,
            br#"{"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":[]}"#.to_vec(),
        ),
        (
            "PATCH",
            format!("{obj}?fieldManager=x"),
            apply,
            br#"[]"#.to_vec(),
        ),
        (
            "PATCH",
            format!("{obj}?fieldManager=x"),
            apply,
            b"spec: {}\n".to_vec(),
        ),
        (
            "PATCH",
            format!("{coll}/B%20ad?fieldManager=x"),
            apply,
            br#"{"apiVersion":"argoproj.io/v1alpha1","kind":"Application"}"#.to_vec(),
        ),
        (
            "PATCH",
            format!("{obj}?fieldManager=x&force=true"),
            apply,
            br#"{"apiVersion":"v1","kind":"Pod"}"#.to_vec(),
        ),
        ("PATCH", obj.into(), "", b"{}".to_vec()),
        (
            "POST",
            coll.into(),
            "application/json",
            br#"{"metadata":{"name":"b","namespace":"other"}}"#.to_vec(),
        ),
        (
            "POST",
            coll.into(),
            "application/json",
            br#"{"metadata":{"generateName":"gen-"},"status":{}}"#.to_vec(),
        ),
        (
            "POST",
            coll.into(),
            "application/json",
            br#"{"metadata":{"name":"c","resourceVersion":"5"}}"#.to_vec(),
        ),
        (
            "POST",
            coll.into(),
            "application/json",
            br#"{"metadata":{"name":""}}"#.to_vec(),
        ),
        (
            "POST",
            coll.into(),
            "application/json",
            br#"{"kind":"Pod","metadata":{"name":"d"}}"#.to_vec(),
        ),
        (
            "POST",
            coll.into(),
            "application/json",
            br#"{"metadata":"x"}"#.to_vec(),
        ),
        ("POST", coll.into(), "application/json", b"null".to_vec()),
        (
            "PUT",
            obj.into(),
            "application/json",
            br#"{"metadata":{"name":"zzz","resourceVersion":"1"}}"#.to_vec(),
        ),
        ("PUT", obj.into(), "application/json", br#"7"#.to_vec()),
        ("DELETE", obj.into(), "application/json", b"{{{".to_vec()),
        (
            "DELETE",
            obj.into(),
            "application/json",
            br#"{"preconditions":{"resourceVersion":"1"}}"#.to_vec(),
        ),
        (
            "DELETE",
            format!("{coll}?labelSelector=in%20(x"),
            "",
            Vec::new(),
        ),
        (
            "GET",
            format!("{coll}?watch=true&timeoutSeconds=99999999999999999999"),
            "",
            Vec::new(),
        ),
        (
            "GET",
            format!("{coll}?watch=true&resourceVersion=99999999999999999999"),
            "",
            Vec::new(),
        ),
        (
            "GET",
            format!("{coll}?watch=true&resourceVersion=-1"),
            "",
            Vec::new(),
        ),
        (
            "GET",
            format!("{coll}?labelSelector=%E2%9C%93,!,a%20notin%20()"),
            "",
            Vec::new(),
        ),
        (
            "GET",
            format!("{coll}?fieldSelector=metadata.name"),
            "",
            Vec::new(),
        ),
        (
            "GET",
            format!("{coll}?limit=99999999999999999999999"),
            "",
            Vec::new(),
        ),
        (
            "GET",
            format!("{coll}?continue=fake-kube-99999999999999999999"),
            "",
            Vec::new(),
        ),
        (
            "GET",
            "/apis/argoproj.io/v1alpha1/namespaces//applications".into(),
            "",
            Vec::new(),
        ),
        (
            "GET",
            "/api/v1/namespaces/argocd/status".into(),
            "",
            Vec::new(),
        ),
        (
            "GET",
            "/api/v1/namespaces/argocd/finalize".into(),
            "",
            Vec::new(),
        ),
        ("GET", "/apis/%E2%9C%93/v1".into(), "", Vec::new()),
        (
            "GET",
            "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/a/status".into(),
            "",
            Vec::new(),
        ),
        ("POST", "/version".into(), "", Vec::new()),
        ("OPTIONS", obj.into(), "", Vec::new()),
    ];
    for (method, path, ct, body) in cases {
        let code = raw_status(&fake, method, &path, ct, &body);
        assert!((200..600).contains(&code), "{method} {path}: {code}");
    }
    // Every answer is logged and the server still works.
    assert!(fake.requests().iter().all(|r| r.status != 0));
    let code = raw_status(&fake, "GET", obj, "", b"");
    assert_eq!(code, 200);
    let a = fake
        .get("argoproj.io/v1alpha1", "Application", Some("argocd"), "a")
        .unwrap();
    assert_eq!(a["metadata"]["name"], "a");
}

fn kustomization_api(client: &Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("kustomize.toolkit.fluxcd.io", "v1", "Kustomization");
    let resource = kube::api::ApiResource::from_gvk_with_plural(&gvk, "kustomizations");
    Api::namespaced_with(client.clone(), "flux-system", &resource)
}

fn condition<'a>(o: &'a Value, type_: &str) -> Option<(&'a str, &'a str)> {
    let c = o["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)?;
    Some((c["status"].as_str()?, c["reason"].as_str()?))
}

/// The simulated kustomize-controller goes through the states Flux documents: reconciling
/// (Ready Unknown) with the request not handled yet, then the request handled with
/// Ready=False and Reconciling=True/ProgressingWithRetry, `observedGeneration` unmoved.
#[test]
fn the_flux_controller_answers_a_request_with_the_documented_conditions() {
    let fake = FakeKube::start(Options::default());
    let object = fake_kube::FluxObject {
        api_version: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        namespace: "flux-system",
        name: "apps",
    };
    fake.put(json!({
        "apiVersion": object.api_version, "kind": object.kind,
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "spec": {"path": "./", "interval": "10m", "sourceRef": {"kind": "GitRepository", "name": "src"}},
        "status": {"observedGeneration": 1, "lastAppliedRevision": "main@sha1:old",
                   "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": "ok"}]}
    }));
    let rt = runtime();
    let seen: Vec<Value> = std::thread::scope(|scope| {
        let controller = scope.spawn(|| {
            fake.flux_reconcile(
                &object,
                "main@sha1:new",
                fake_kube::FluxOutcome::Failed {
                    reason: "BuildFailed".into(),
                    message: "kustomize build failed".into(),
                },
                WAIT,
            )
        });
        let seen = rt.block_on(async {
            let client = client(&fake);
            let mut rx = spawn_watcher(
                kustomization_api(&client),
                watcher::Config::default().fields("metadata.name=apps"),
            );
            next_where(&mut rx, "init done", |ev| {
                matches!(ev, Ok(watcher::Event::InitDone))
            })
            .await;
            fake.update(
                object.api_version,
                object.kind,
                Some("flux-system"),
                "apps",
                |o| {
                    o["metadata"]["annotations"] = json!({"reconcile.fluxcd.io/requestedAt": "t1"});
                },
            );
            let mut seen = Vec::new();
            loop {
                let Seen(ev) = next_where(&mut rx, "the handled request", |ev| {
                    applied_with(ev, |_: &DynamicObject| true)
                })
                .await;
                if let Ok(watcher::Event::Apply(o)) = ev {
                    let value = serde_json::to_value(&o).expect("json");
                    let done = value["status"]["lastHandledReconcileAt"] == "t1";
                    seen.push(value);
                    if done {
                        break seen;
                    }
                }
            }
        });
        assert_eq!(controller.join().expect("controller"), "t1");
        seen
    });
    assert!(
        seen.iter()
            .any(|o| o["status"]["lastHandledReconcileAt"].is_null()
                && condition(o, "Reconciling") == Some(("True", "Progressing"))
                && condition(o, "Ready") == Some(("Unknown", "Progressing"))),
        "{seen:#?}"
    );
    let last = seen.last().expect("a final state");
    assert_eq!(condition(last, "Ready"), Some(("False", "BuildFailed")));
    assert_eq!(
        condition(last, "Reconciling"),
        Some(("True", "ProgressingWithRetry"))
    );
    assert_eq!(last["status"]["lastAttemptedRevision"], "main@sha1:new");
    assert_eq!(last["status"]["lastAppliedRevision"], "main@sha1:old");
    assert_eq!(last["status"]["observedGeneration"], 1);
}

#[test]
fn dry_runs_and_admission() {
    let fake = FakeKube::start(Options::default());
    fake.put(deployment("web", "hello", "web"));
    // A mutating webhook, standing in for a registry-mirror policy.
    fake.mutate_on_admission("apps/v1", "Deployment", |d| {
        d["metadata"]["annotations"]["mirrored"] = json!("yes");
    });
    let rv = fake.resource_version();
    runtime().block_on(async {
        let client = client(&fake);
        let deployments: Api<DynamicObject> = Api::namespaced_with(
            client.clone(),
            "hello",
            &kube::discovery::ApiResource::from_gvk(&GroupVersionKind::gvk(
                "apps",
                "v1",
                "Deployment",
            )),
        );
        let mut dry = PatchParams::apply("gitops-bot").force();
        dry.dry_run = true;
        // A dry-run apply answers the object as it would be, admission included.
        let answered = deployments
            .patch(
                "web",
                &dry,
                &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "web", "namespace": "hello"}, "spec": {"replicas": 7}})),
            )
            .await
            .expect("dry-run apply");
        assert_eq!(answered.data["spec"]["replicas"], 7);
        assert_eq!(
            answered.metadata.annotations.as_ref().unwrap()["mirrored"],
            "yes"
        );
        // So does a dry-run merge patch.
        let merge = PatchParams {
            dry_run: true,
            ..PatchParams::default()
        };
        let answered = deployments
            .patch(
                "web",
                &merge,
                &Patch::Merge(json!({"spec": {"replicas": 8}})),
            )
            .await
            .expect("dry-run merge patch");
        assert_eq!(answered.data["spec"]["replicas"], 8);
    });
    // Nothing was stored.
    assert_eq!(fake.resource_version(), rv);
    let stored = fake
        .get("apps/v1", "Deployment", Some("hello"), "web")
        .unwrap();
    assert_eq!(stored["spec"]["replicas"], 1);
    assert!(stored["metadata"].get("annotations").is_none());
    // Any other dryRun value is refused, as PatchOptions validation refuses it.
    let path = "/apis/apps/v1/namespaces/hello/deployments/web?dryRun=Some";
    assert_eq!(
        raw_status(&fake, "PATCH", path, "application/merge-patch+json", b"{}"),
        422
    );

    // A Secret's stringData is stored as base64 data, never as sent.
    runtime().block_on(async {
        let client = client(&fake);
        let secrets: Api<DynamicObject> = Api::namespaced_with(
            client,
            "hello",
            &kube::discovery::ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Secret")),
        );
        let created = secrets
            .patch(
                "db",
                &PatchParams::apply("gitops-bot"),
                &Patch::Apply(json!({"apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": "db", "namespace": "hello"},
                    "data": {"user": "YWRtaW4="}, "stringData": {"password": "hunter2"}})),
            )
            .await
            .expect("apply a Secret");
        assert_eq!(
            created.data["data"],
            json!({"user": "YWRtaW4=", "password": "aHVudGVyMg=="})
        );
        assert!(created.data.get("stringData").is_none());
    });
    let stored = fake.get("v1", "Secret", Some("hello"), "db").unwrap();
    assert!(stored.get("stringData").is_none(), "{stored}");
}
