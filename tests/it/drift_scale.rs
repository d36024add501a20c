//! `drift` at scale (issue 12, "Performance"): 200 Argo CD Applications in 20 environments,
//! one namespace each, through the real binary against the fake GitLab and the fake
//! Kubernetes API. The request counts that `benches/drift_pass.rs` reports beside its times
//! are asserted here (the times are not): one list per kind and namespace and no get per
//! Application; a rerun that sees nothing new makes no GitLab write and at most 2 GitLab
//! reads per environment.

use crate::common;
use crate::fake_gitlab;
use crate::fake_kube;

use std::collections::BTreeSet;

use fake_gitlab::{FakeGitlab, Options as GitlabOptions};
use fake_kube::{FakeKube, Options as KubeOptions};
use serde_json::{Value, json};

/// The fake GitLab's one project.
const PROJECT: &str = "group/helloworld-ops";
const ARGO: &str = "argoproj.io/v1alpha1";
const ENVIRONMENTS: usize = 20;
const APPS_PER_ENVIRONMENT: usize = 10;

/// `env-07`
fn environment(e: usize) -> String {
    format!("env-{e:02}")
}

/// The namespace of `env-07`'s Applications: `apps-07`.
fn namespace(e: usize) -> String {
    format!("apps-{e:02}")
}

/// `.gitops-bot.yaml`: each environment lists its 10 Applications; `drift.confirm: 0s`.
fn config() -> String {
    let mut text = "operators: [operator]\nenvironments:\n".to_string();
    for e in 0..ENVIRONMENTS {
        let apps: Vec<String> = (0..APPS_PER_ENVIRONMENT)
            .map(|a| format!("{}/app-{a}", namespace(e)))
            .collect();
        text.push_str(&format!(
            "  {}:\n    argocd_apps: [{}]\n",
            environment(e),
            apps.join(", ")
        ));
    }
    text.push_str("drift:\n  confirm: 0s\n");
    text
}

fn application(e: usize, a: usize, sync: &str, revision: &str) -> Value {
    json!({
        "apiVersion": ARGO,
        "kind": "Application",
        "metadata": {"name": format!("app-{a}"), "namespace": namespace(e)},
        "spec": {"project": "default", "source": {"repoURL": "https://gitlab.example.com/group/helloworld-ops.git", "path": format!("envs/{}/app-{a}", environment(e)), "targetRevision": "main"}},
        "status": {
            "sync": {"status": sync, "revision": revision},
            "health": {"status": "Healthy"},
            "resources": [
                {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": environment(e), "name": format!("app-{a}"), "status": sync, "health": {"status": "Healthy"}},
            ],
        },
    })
}

struct Scale {
    gitlab: FakeGitlab,
    kube: FakeKube,
    head: String,
    _seed: tempfile::TempDir,
}

/// The config repository and a cluster where every Application is synced at the head.
fn scale() -> Scale {
    let seed = tempfile::tempdir().unwrap();
    common::write(seed.path(), ".gitops-bot.yaml", config());
    common::write(seed.path(), "README.md", "Platform config.\n");
    let gitlab = FakeGitlab::start(GitlabOptions {
        seed_dir: Some(seed.path().to_path_buf()),
        ..GitlabOptions::default()
    });
    let head = gitlab.git(&["rev-parse", "main"]).trim().to_string();
    let kube = FakeKube::start(KubeOptions::default());
    for e in 0..ENVIRONMENTS {
        for a in 0..APPS_PER_ENVIRONMENT {
            kube.put(application(e, a, "Synced", &head));
        }
    }
    Scale {
        gitlab,
        kube,
        head,
        _seed: seed,
    }
}

impl Scale {
    fn drift(&self, args: &[&str]) -> common::Run {
        let mut all = vec!["drift", "--project", PROJECT];
        all.extend_from_slice(args);
        let mut cmd = common::bot_command(&self.gitlab.url(), self.gitlab.token(), &all);
        cmd.env("KUBE_API_URL", self.kube.url())
            .env("KUBE_TOKEN", self.kube.token())
            .env_remove("KUBECONFIG")
            .env_remove("KUBE_CA_FILE")
            .env_remove("KUBE_NAMESPACE");
        common::run_without_leaking(cmd, self.gitlab.token())
    }

    fn out_of_sync(&self, e: usize, a: usize) {
        self.kube.put(application(e, a, "OutOfSync", &self.head));
    }

    /// The requests to the fake cluster since the last clear: (Application lists by
    /// namespace, other Application requests, the rest).
    fn kube_reads(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let prefix = format!("/apis/{ARGO}/namespaces/");
        let (mut lists, mut other_apps, mut rest) = (Vec::new(), Vec::new(), Vec::new());
        for r in self.kube.requests() {
            let line = format!("{} {}?{}", r.method, r.path, r.query);
            match r
                .path
                .strip_prefix(&prefix)
                .map(|p| p.split('/').collect::<Vec<_>>())
            {
                Some(parts)
                    if r.method == "GET"
                        && !r.is_watch()
                        && parts.len() == 2
                        && parts[1] == "applications" =>
                {
                    lists.push(parts[0].to_string())
                }
                Some(_) => other_apps.push(line),
                None => rest.push(line),
            }
        }
        (lists, other_apps, rest)
    }
}

fn ok(run: &common::Run) {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

#[test]
fn two_hundred_applications_are_read_with_one_list_per_namespace_and_a_quiet_rerun_writes_nothing()
{
    let s = scale();
    for (e, a) in [(3, 4), (11, 0), (17, 9)] {
        s.out_of_sync(e, a);
    }
    s.kube.clear_requests();

    // First pass: three drifted environments, three issues.
    let run = s.drift(&[]);
    ok(&run);
    assert_eq!(
        run.stdout
            .lines()
            .filter(|l| l.contains(": drifted ("))
            .count(),
        3,
        "{}",
        run.stdout
    );
    assert_eq!(s.gitlab.issues().len(), 3);
    let (lists, other_apps, rest) = s.kube_reads();
    let namespaces: BTreeSet<String> = (0..ENVIRONMENTS).map(namespace).collect();
    assert_eq!(
        lists.len(),
        ENVIRONMENTS,
        "one list per namespace: {lists:?}"
    );
    assert_eq!(lists.iter().cloned().collect::<BTreeSet<_>>(), namespaces);
    assert_eq!(other_apps, Vec::<String>::new(), "no get per Application");
    // Discovery of the argoproj.io group, once for the run.
    assert!(
        rest.len() <= 2 && rest.iter().all(|r| r.starts_with("GET /apis")),
        "{rest:?}"
    );

    // A rerun that sees nothing new: no GitLab write, at most 2 reads per environment, and
    // the cluster read the same way.
    s.gitlab.clear_log();
    s.kube.clear_requests();
    ok(&s.drift(&[]));
    let writes: Vec<String> = s
        .gitlab
        .writes()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(writes, Vec::<String>::new());
    let reads = s.gitlab.requests().len();
    assert!(
        reads <= 2 * ENVIRONMENTS,
        "{reads} GitLab reads for {ENVIRONMENTS} environments: {:?}",
        s.gitlab
            .requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>()
    );
    let (lists, other_apps, rest) = s.kube_reads();
    assert_eq!(lists.len(), ENVIRONMENTS, "{lists:?}");
    assert_eq!(other_apps, Vec::<String>::new());
    assert!(rest.len() <= 2, "{rest:?}");
}

#[test]
fn a_list_the_bot_may_not_read_makes_every_application_it_covers_unknown_and_no_other() {
    let s = scale();
    s.kube
        .forbid("list", "argoproj.io", "applications", Some(&namespace(5)));
    let run = s.drift(&["--dry-run", "--output", "json"]);
    ok(&run);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let environments = report["environments"].as_array().unwrap();
    assert_eq!(environments.len(), ENVIRONMENTS);
    for e in environments {
        let name = e["environment"].as_str().unwrap();
        if name != environment(5) {
            assert_eq!(e["state"], "converged", "{e}");
            continue;
        }
        assert_eq!(e["state"], "unknown", "{e}");
        let objects = e["objects"].as_array().unwrap();
        assert_eq!(objects.len(), APPS_PER_ENVIRONMENT, "{e}");
        for o in objects {
            assert_eq!(o["state"], "unknown", "{o}");
            let reason = o["reason"].as_str().unwrap();
            assert!(
                reason.starts_with(
                    "list applications.argoproj.io in namespace apps-05: 403 Forbidden"
                ) && reason.contains("verbs: [\"list\", \"watch\"]"),
                "{reason}"
            );
        }
    }
    // One (refused) list for the ten, not ten.
    let (lists, other_apps, _) = s.kube_reads();
    assert_eq!(lists.iter().filter(|n| **n == namespace(5)).count(), 1);
    assert_eq!(other_apps, Vec::<String>::new());
    assert!(s.gitlab.writes().is_empty(), "--dry-run writes nothing");
}
