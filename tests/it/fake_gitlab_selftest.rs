//! Self-test of the fake GitLab used by the integration tests.

use crate::fake_gitlab;

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use fake_gitlab::{FakeGitlab, Fault, Options, Rule};
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

const PROJECT: &str = "/api/v4/projects/42";
const PROJECT_BY_PATH: &str = "/api/v4/projects/group%2Fhelloworld-ops";

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

struct Api {
    fg: FakeGitlab,
    http: Client,
}

impl Api {
    fn start(opts: Options) -> Api {
        Api {
            fg: FakeGitlab::start(opts),
            http: client(),
        }
    }

    fn req(&self, method: &str, path: &str) -> RequestBuilder {
        let url = format!("{}{}", self.fg.url(), path);
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        self.http
            .request(m, url)
            .header("PRIVATE-TOKEN", self.fg.token())
    }

    fn get(&self, path: &str) -> Response {
        self.req("GET", path).send().unwrap()
    }

    fn json(&self, method: &str, path: &str, body: Value) -> Response {
        self.req(method, path).json(&body).send().unwrap()
    }

    fn form(&self, method: &str, path: &str, body: &str) -> Response {
        self.req(method, path)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.to_string())
            .send()
            .unwrap()
    }
}

fn body(r: Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn write_seed(dir: &Path) {
    std::fs::create_dir_all(dir.join("apps/hello")).unwrap();
    std::fs::write(
        dir.join("apps/hello/values.yaml"),
        "image:\n  repository: registry.example.com/hello\n  tag: \"1.2.3\" # pinned\r\n",
    )
    .unwrap();
    std::fs::write(dir.join("README.md"), "# helloworld-ops\n").unwrap();
    std::fs::write(dir.join("binary.bin"), [0u8, 159, 146, 150, 255, 10, 13]).unwrap();
    std::fs::write(dir.join("deploy.sh"), "#!/bin/sh\necho hi\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.join("deploy.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
}

fn seeded() -> (Api, tempfile::TempDir) {
    let seed = tempfile::tempdir().unwrap();
    write_seed(seed.path());
    let api = Api::start(Options {
        seed_dir: Some(seed.path().to_path_buf()),
        ..Options::default()
    });
    (api, seed)
}

fn commit_json(api: &Api, branch: &str, path: &str, content: &str) -> Response {
    api.json(
        "POST",
        &format!("{PROJECT}/repository/commits"),
        json!({
            "branch": branch,
            "start_branch": if api.fg.branch_head(branch).is_some() { branch } else { "main" },
            "commit_message": format!("bump {path}"),
            "actions": [{ "action": "create", "file_path": path, "content": content }],
        }),
    )
}

#[test]
fn auth_is_required_and_scoped() {
    let api = Api::start(Options::default());
    let url = format!("{}{PROJECT}", api.fg.url());
    let (s, b) = body(api.http.get(&url).send().unwrap());
    assert_eq!((s, b), (401, json!({"message": "401 Unauthorized"})));
    let (s, _) = body(
        api.http
            .get(&url)
            .header("PRIVATE-TOKEN", "nope")
            .send()
            .unwrap(),
    );
    assert_eq!(s, 401);
    let (s, _) = body(
        api.http
            .get(&url)
            .header("Authorization", format!("Bearer {}", api.fg.token()))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200);
    // A job token may read but not write.
    let (s, _) = body(
        api.http
            .get(&url)
            .header("JOB-TOKEN", api.fg.token())
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200);
    let (s, b) = body(
        api.http
            .post(format!("{url}/merge_requests"))
            .header("JOB-TOKEN", api.fg.token())
            .json(&json!({"source_branch": "a", "target_branch": "main", "title": "t"}))
            .send()
            .unwrap(),
    );
    assert_eq!((s, b), (403, json!({"message": "403 Forbidden"})));

    let ro = Api::start(Options {
        read_only: true,
        ..Options::default()
    });
    let (s, b) = body(ro.json(
        "POST",
        &format!("{PROJECT}/merge_requests"),
        json!({"source_branch": "a", "target_branch": "main", "title": "t"}),
    ));
    assert_eq!(s, 403);
    assert_eq!(b["error"], "insufficient_scope");
    assert_eq!(b["scope"], "api");
    assert_eq!(body(ro.get(PROJECT)).0, 200);
    // The token never reaches the log.
    for r in api.fg.requests().iter().chain(ro.fg.requests().iter()) {
        assert!(!format!("{r:?}").contains(api.fg.token()));
    }
}

#[test]
fn project_user_users_members_and_unknown_endpoints() {
    let api = Api::start(Options::default());
    for path in [PROJECT, PROJECT_BY_PATH] {
        let (s, b) = body(api.get(path));
        assert_eq!(s, 200);
        assert_eq!(b["id"], 42);
        assert_eq!(b["path_with_namespace"], "group/helloworld-ops");
        assert_eq!(b["default_branch"], "main");
        assert_eq!(
            b["web_url"],
            format!("{}/group/helloworld-ops", api.fg.url())
        );
    }
    let (s, b) = body(api.get("/api/v4/projects/7"));
    assert_eq!((s, b), (404, json!({"message": "404 Project Not Found"})));
    let (s, b) = body(api.get("/api/v4/projects/other%2Fthing/merge_requests"));
    assert_eq!((s, b), (404, json!({"message": "404 Project Not Found"})));

    let (s, b) = body(api.get("/api/v4/user"));
    assert_eq!(s, 200);
    assert_eq!(b["username"], "gitops-bot");
    assert_eq!(b["bot"], true);

    let (_, b) = body(api.get("/api/v4/users?username=reviewer"));
    assert_eq!(b.as_array().unwrap().len(), 1);
    assert_eq!(b[0]["id"], 3);
    assert_eq!(b[0]["state"], "active");
    let (_, b) = body(api.get("/api/v4/users?username=ghost"));
    assert_eq!(b, json!([]));

    let (s, b) = body(api.get(&format!("{PROJECT}/members/all/2")));
    assert_eq!(s, 200);
    assert_eq!(
        (b["username"].clone(), b["access_level"].clone()),
        (json!("operator"), json!(40))
    );
    let (s, b) = body(api.get(&format!("{PROJECT}/members/all/99")));
    assert_eq!((s, b), (404, json!({"message": "404 Not found"})));

    api.fg.clear_log();
    let (s, b) = body(api.get(&format!("{PROJECT}/pipelines")));
    assert_eq!((s, b), (404, json!({"message": "404 Not Found"})));
    let unknown = api.fg.unknown_requests();
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].path, format!("{PROJECT}/pipelines"));
}

#[test]
fn branches() {
    let (api, _seed) = seeded();
    let head = api.fg.branch_head("main").unwrap();
    let (s, b) = body(api.get(&format!("{PROJECT}/repository/branches/main")));
    assert_eq!(s, 200);
    assert_eq!(b["name"], "main");
    assert_eq!(b["commit"]["id"], head.as_str());
    assert_eq!(b["commit"]["parent_ids"], json!([]));
    assert_eq!(b["commit"]["title"], "Initial commit");
    assert_eq!(b["protected"], true);

    let sha = api
        .fg
        .commit_files("gitops/bump-hello", &[("x.txt", "x")], "human push");
    let (s, b) = body(api.get(&format!(
        "{PROJECT_BY_PATH}/repository/branches/gitops%2Fbump-hello"
    )));
    assert_eq!(s, 200);
    assert_eq!(b["commit"]["id"], sha.as_str());
    assert_eq!(b["commit"]["parent_ids"], json!([head]));
    assert_eq!(b["protected"], false);

    let (s, b) = body(api.get(&format!("{PROJECT}/repository/branches/nope")));
    assert_eq!((s, b), (404, json!({"message": "404 Branch Not Found"})));
}

#[test]
fn archive_matches_the_seed_byte_for_byte() {
    let (api, seed) = seeded();
    let sha = api.fg.branch_head("main").unwrap();
    for path in [
        format!("{PROJECT}/repository/archive?sha={sha}"),
        format!("{PROJECT}/repository/archive.tar.gz?sha={sha}"),
    ] {
        let r = api.get(&path);
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["content-type"], "application/x-gzip");
        let disposition = r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(disposition.contains(&format!("helloworld-ops-{sha}-{sha}.tar.gz")));
        let bytes = r.bytes().unwrap();
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        let prefix = format!("helloworld-ops-{sha}-{sha}/");
        let mut files = std::collections::BTreeMap::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let p = e.path().unwrap().to_string_lossy().into_owned();
            if p == "pax_global_header" {
                continue;
            }
            assert!(p.starts_with(&prefix), "{p} not under {prefix}");
            if e.header().entry_type().is_file() {
                let mut buf = Vec::new();
                e.read_to_end(&mut buf).unwrap();
                let rel = p[prefix.len()..].to_string();
                if rel == "deploy.sh" {
                    assert_eq!(e.header().mode().unwrap() & 0o111, 0o111);
                }
                files.insert(rel, buf);
            }
        }
        let mut expected = std::collections::BTreeMap::new();
        for e in walkdir::WalkDir::new(seed.path()) {
            let e = e.unwrap();
            if e.file_type().is_file() {
                let rel = e.path().strip_prefix(seed.path()).unwrap();
                expected.insert(
                    rel.to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                );
            }
        }
        assert_eq!(files, expected);
    }
    // By branch name, and the default branch when no sha is given.
    let r = api.get(&format!("{PROJECT}/repository/archive.tar.gz?sha=main"));
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("helloworld-ops-main-{sha}"))
    );
    assert_eq!(
        api.get(&format!("{PROJECT}/repository/archive")).status(),
        200
    );
    let (s, b) = body(api.get(&format!(
        "{PROJECT}/repository/archive?sha={}",
        "0".repeat(40)
    )));
    assert_eq!((s, b), (404, json!({"message": "404 File Not Found"})));
}

#[test]
fn form_encoded_multi_action_commit_from_the_gitlab_crate() {
    let api = Api::start(Options::default());
    api.fg.commit_files(
        "master",
        &[
            ("foo/bar2", "two\n"),
            ("foo/bar4", "four\n"),
            ("foo/bar5", "five\n"),
        ],
        "prepare",
    );
    let before = api.fg.branch_head("master").unwrap();
    // Verbatim from gitlab-0.1905.0 src/api/projects/repository/commits/create.rs `fn endpoint()`.
    let body_str = concat!(
        "branch=master",
        "&commit_message=message",
        "&actions%5B%5D%5Baction%5D=create",
        "&actions%5B%5D%5Bfile_path%5D=foo%2Fbar",
        "&actions%5B%5D%5Bcontent%5D=content",
        "&actions%5B%5D%5Bencoding%5D=text",
        "&actions%5B%5D%5Baction%5D=delete",
        "&actions%5B%5D%5Bfile_path%5D=foo%2Fbar2",
        "&actions%5B%5D%5Baction%5D=move",
        "&actions%5B%5D%5Bfile_path%5D=foo%2Fbar3",
        "&actions%5B%5D%5Bprevious_path%5D=foo%2Fbar4",
        "&actions%5B%5D%5Bcontent%5D=content",
        "&actions%5B%5D%5Bencoding%5D=text",
        "&actions%5B%5D%5Baction%5D=update",
        "&actions%5B%5D%5Bfile_path%5D=foo%2Fbar5",
        "&actions%5B%5D%5Bcontent%5D=content",
        "&actions%5B%5D%5Bencoding%5D=text",
        "&actions%5B%5D%5Baction%5D=chmod",
        "&actions%5B%5D%5Bfile_path%5D=foo%2Fbar5",
        "&actions%5B%5D%5Bexecute_filemode%5D=true",
    );
    let (s, b) = body(api.form(
        "POST",
        &format!("{PROJECT_BY_PATH}/repository/commits"),
        body_str,
    ));
    assert_eq!(s, 201, "{b}");
    let sha = b["id"].as_str().unwrap().to_string();
    assert_eq!(b["parent_ids"], json!([before]));
    assert_eq!(b["title"], "message");
    assert_eq!(b["short_id"], &sha[..8]);
    assert_eq!(
        b["web_url"],
        format!("{}/-/commit/{sha}", api.fg.project_web_url())
    );
    assert_eq!(api.fg.branch_head("master").unwrap(), sha);
    let f = |p: &str| api.fg.file(&sha, p);
    assert_eq!(f("foo/bar").unwrap(), b"content");
    assert_eq!(f("foo/bar2"), None);
    assert_eq!(f("foo/bar4"), None);
    assert_eq!(f("foo/bar3").unwrap(), b"content");
    assert_eq!(f("foo/bar5").unwrap(), b"content");
    let tree = api.fg.git(&["ls-tree", &sha, "foo/bar5"]);
    assert!(tree.starts_with("100755 "), "{tree}");
    // One commit, exactly.
    assert_eq!(
        api.fg
            .git(&["rev-list", "--count", &format!("{before}..{sha}")])
            .trim(),
        "1"
    );
}

#[test]
fn json_commit_force_reset_and_rejections() {
    let (api, _seed) = seeded();
    let main = api.fg.branch_head("main").unwrap();
    let values = "apps/hello/values.yaml";
    let last = api
        .fg
        .git(&["log", "-1", "--format=%H", "main", "--", values]);
    let last = last.trim();
    let commits = format!("{PROJECT}/repository/commits");

    // JSON, new branch from main, base64 content, author override.
    let (s, b) = body(api.json(
        "POST",
        &commits,
        json!({
            "branch": "gitops/hello",
            "start_branch": "main",
            "commit_message": "Bump hello to 1.2.4\n\nbody",
            "author_name": "GitOps Bot",
            "author_email": "bot@example.com",
            "actions": [{
                "action": "update",
                "file_path": values,
                "content": "aW1hZ2U6CiAgdGFnOiAiMS4yLjQiCg==",
                "encoding": "base64",
                "last_commit_id": last,
            }],
        }),
    ));
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["title"], "Bump hello to 1.2.4");
    assert_eq!(b["message"], "Bump hello to 1.2.4\n\nbody");
    assert_eq!(b["author_name"], "GitOps Bot");
    let first = b["id"].as_str().unwrap().to_string();
    assert_eq!(
        api.fg.file("gitops/hello", values).unwrap(),
        b"image:\n  tag: \"1.2.4\"\n"
    );

    // start_branch with an existing branch and no force: 400.
    let again = json!({
        "branch": "gitops/hello",
        "start_sha": main,
        "commit_message": "Bump hello to 1.2.5",
        "actions": [{ "action": "update", "file_path": values, "content": "tag: 1.2.5\n" }],
    });
    let (s, b) = body(api.json("POST", &commits, again.clone()));
    assert_eq!(s, 400);
    assert_eq!(
        b["message"],
        "A branch called 'gitops/hello' already exists. Switch to that branch in order to make changes"
    );
    // force: the branch is reset onto start_sha + one new commit.
    let mut forced = again;
    forced["force"] = json!(true);
    let (s, b) = body(api.json("POST", &commits, forced));
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["parent_ids"], json!([main]));
    let head = api.fg.branch_head("gitops/hello").unwrap();
    assert_eq!(head, b["id"].as_str().unwrap());
    let history = api.fg.git(&["rev-list", &head]);
    assert!(
        !history.contains(&first),
        "the old bot commit is gone from the branch"
    );
}

#[test]
fn commit_rejections() {
    let (api, _seed) = seeded();
    let values = "apps/hello/values.yaml";
    let commits = format!("{PROJECT}/repository/commits");
    let main = api.fg.branch_head("main").unwrap();
    let post = |v: Value| body(api.json("POST", &commits, v));

    // Stale last_commit_id: someone pushed after we read.
    api.fg
        .commit_files("main", &[(values, "human edit\n")], "human edit");
    let (s, b) = post(json!({
        "branch": "main",
        "commit_message": "m",
        "actions": [{ "action": "update", "file_path": values, "content": "x", "last_commit_id": main }],
    }));
    assert_eq!(s, 400);
    assert_eq!(
        b["message"],
        format!("The file has changed since you started editing it: {values}")
    );
    let (s, b) = post(json!({
        "branch": "main", "commit_message": "m",
        "actions": [{ "action": "create", "file_path": "README.md", "content": "x" }],
    }));
    assert_eq!(
        (s, b),
        (
            400,
            json!({"message": "A file with this name already exists"})
        )
    );
    let (s, b) = post(json!({
        "branch": "main", "commit_message": "m",
        "actions": [{ "action": "update", "file_path": "nope.txt", "content": "x" }],
    }));
    assert_eq!(
        (s, b),
        (
            400,
            json!({"message": "A file with this name doesn't exist"})
        )
    );
    let (s, b) = post(json!({
        "branch": "main", "commit_message": "m",
        "actions": [{ "action": "delete", "file_path": "nope.txt" }],
    }));
    assert_eq!(
        (s, b),
        (
            400,
            json!({"message": "A file with this name doesn't exist"})
        )
    );
    let (s, b) = post(json!({ "branch": "main", "commit_message": "m", "actions": [] }));
    assert_eq!((s, b), (400, json!({"error": "actions is empty"})));
    let (s, b) = post(json!({
        "branch": "x", "start_branch": "nope", "commit_message": "m",
        "actions": [{ "action": "create", "file_path": "a", "content": "x" }],
    }));
    assert_eq!(
        (s, b),
        (
            400,
            json!({"message": "You can only create or edit files when you are on a branch"})
        )
    );
    let (s, b) = post(json!({
        "branch": "x", "start_sha": "1".repeat(40), "commit_message": "m",
        "actions": [{ "action": "create", "file_path": "a", "content": "x" }],
    }));
    assert_eq!(
        (s, b),
        (
            400,
            json!({"message": format!("Cannot find start_sha '{}'", "1".repeat(40))})
        )
    );
    // Nothing of the above moved anything.
    assert_eq!(api.fg.branches(), vec!["main".to_string()]);
    assert_eq!(
        api.fg
            .writes()
            .iter()
            .filter(|w| w.status == Some(201))
            .count(),
        0
    );
}

fn create_mr(api: &Api, source: &str, title: &str) -> (u16, Value) {
    body(api.json(
        "POST",
        &format!("{PROJECT}/merge_requests"),
        json!({ "source_branch": source, "target_branch": "main", "title": title }),
    ))
}

#[test]
fn merge_requests_lifecycle() {
    let api = Api::start(Options::default());
    let head = api
        .fg
        .commit_files("gitops/hello", &[("a.txt", "a")], "bump");
    // Form-encoded, as the gitlab crate sends it.
    let (s, mr) = body(api.form(
        "POST",
        &format!("{PROJECT_BY_PATH}/merge_requests"),
        concat!(
            "source_branch=gitops%2Fhello&target_branch=main&title=Bump+hello",
            "&description=desc&labels=gitops%2Cbump",
            "&assignee_ids%5B%5D=2&assignee_ids%5B%5D=99&reviewer_ids%5B%5D=3",
            "&remove_source_branch=true",
        ),
    ));
    assert_eq!(s, 201, "{mr}");
    assert_eq!(mr["iid"], 1);
    assert_eq!(mr["state"], "opened");
    assert_eq!(mr["sha"], head.as_str());
    assert_eq!(mr["diff_refs"]["head_sha"], head.as_str());
    assert_eq!(mr["labels"], json!(["gitops", "bump"]));
    assert_eq!(
        mr["assignees"].as_array().unwrap().len(),
        1,
        "unknown id 99 dropped"
    );
    assert_eq!(mr["reviewers"][0]["username"], "reviewer");
    assert_eq!(mr["author"]["username"], "gitops-bot");
    assert_eq!(mr["detailed_merge_status"], "mergeable");
    assert_eq!(
        mr["web_url"],
        format!("{}/group/helloworld-ops/-/merge_requests/1", api.fg.url())
    );

    let (s, b) = create_mr(&api, "gitops/hello", "dup");
    assert_eq!(
        (s, b),
        (
            409,
            json!({"message": ["Another open merge request already exists for this source branch: !1"]})
        )
    );
    let (s, b) = create_mr(&api, "missing", "x");
    assert_eq!(
        (s, b),
        (
            400,
            json!({"message": {"source_branch": ["does not exist"]}})
        )
    );
    let (s, b) = body(api.json(
        "POST",
        &format!("{PROJECT}/merge_requests"),
        json!({ "source_branch": "gitops/hello", "target_branch": "main", "title": "t",
                "description": "x".repeat(1_048_577) }),
    ));
    assert_eq!(
        (s, b),
        (
            400,
            json!({"message": {"description": ["is too long (maximum is 1048576 characters)"]}})
        )
    );

    // The source branch moves: sha and diff_refs follow.
    let newer = api
        .fg
        .commit_files("gitops/hello", &[("b.txt", "b")], "more");
    let (_, got) = body(api.get(&format!("{PROJECT}/merge_requests/1")));
    assert_eq!(got["sha"], newer.as_str());
    assert_eq!(
        got["diff_refs"]["start_sha"],
        api.fg.branch_head("main").unwrap().as_str()
    );

    // Update (form, as the crate sends it).
    let (s, got) = body(api.form(
        "PUT",
        &format!("{PROJECT}/merge_requests/1"),
        "title=Bump+hello+to+2&add_labels=extra&remove_labels=bump&assignee_ids=0",
    ));
    assert_eq!(s, 200, "{got}");
    assert_eq!(got["title"], "Bump hello to 2");
    assert_eq!(got["labels"], json!(["gitops", "extra"]));
    assert_eq!(got["assignees"], json!([]));

    // Close, open another for the same branch, reopening the first conflicts.
    let (s, got) = body(api.json(
        "PUT",
        &format!("{PROJECT}/merge_requests/1"),
        json!({"state_event": "close"}),
    ));
    assert_eq!((s, got["state"].clone()), (200, json!("closed")));
    let (s, two) = create_mr(&api, "gitops/hello", "second");
    assert_eq!((s, two["iid"].clone()), (201, json!(2)));
    let (s, b) = body(api.json(
        "PUT",
        &format!("{PROJECT}/merge_requests/1"),
        json!({"state_event": "reopen"}),
    ));
    assert_eq!(
        (s, b),
        (
            409,
            json!({"message": ["Another open merge request already exists for this source branch: !2"]})
        )
    );
    api.fg.close_mr(2);
    let (s, got) = body(api.json(
        "PUT",
        &format!("{PROJECT}/merge_requests/1"),
        json!({"state_event": "reopen"}),
    ));
    assert_eq!((s, got["state"].clone()), (200, json!("opened")));
    let (s, b) = body(api.get(&format!("{PROJECT}/merge_requests/77")));
    assert_eq!(
        (s, b),
        (404, json!({"message": "404 Merge Request Not Found"}))
    );

    // Filters.
    let (_, list) = body(api.get(&format!(
        "{PROJECT}/merge_requests?state=opened&source_branch=gitops%2Fhello&target_branch=main"
    )));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["iid"], 1);
    let (_, list) = body(api.get(&format!("{PROJECT}/merge_requests?state=closed")));
    assert_eq!(list[0]["iid"], 2);
    let (_, list) = body(api.get(&format!(
        "{PROJECT}/merge_requests?labels=extra&author_username=gitops-bot"
    )));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(api.fg.merge_requests().len(), 2);
}

#[test]
fn merge_request_list_pagination() {
    let api = Api::start(Options::default());
    for i in 1..=5 {
        api.fg.commit_files(&format!("b{i}"), &[("f", "x")], "c");
        assert_eq!(create_mr(&api, &format!("b{i}"), &format!("mr {i}")).0, 201);
    }
    let mut seen = Vec::new();
    let mut url = format!(
        "{}{PROJECT}/merge_requests?state=opened&per_page=2",
        api.fg.url()
    );
    let mut pages = 0;
    loop {
        let r = api
            .http
            .get(&url)
            .header("PRIVATE-TOKEN", api.fg.token())
            .send()
            .unwrap();
        let h = r.headers().clone();
        pages += 1;
        assert_eq!(h["x-per-page"], "2");
        assert_eq!(h["x-total"], "5");
        assert_eq!(h["x-total-pages"], "3");
        assert_eq!(h["x-page"], pages.to_string().as_str());
        let link = h["link"].to_str().unwrap().to_string();
        assert!(
            link.contains("rel=\"first\"") && link.contains("rel=\"last\""),
            "{link}"
        );
        let items: Vec<Value> = r.json().unwrap();
        seen.extend(items.iter().map(|m| m["iid"].as_u64().unwrap()));
        let next = h["x-next-page"].to_str().unwrap();
        if pages == 1 {
            assert_eq!(h["x-prev-page"], "");
        }
        if next.is_empty() {
            assert!(!link.contains("rel=\"next\""));
            break;
        }
        assert_eq!(next, (pages + 1).to_string());
        let next_link = link
            .split(", ")
            .find(|l| l.ends_with("rel=\"next\""))
            .unwrap();
        url = next_link[1..next_link.find('>').unwrap()].to_string();
        assert!(
            url.starts_with(&api.fg.url()) && url.contains("state=opened"),
            "{url}"
        );
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, vec![5, 4, 3, 2, 1], "created_at desc by default");
}

#[test]
fn notes() {
    let api = Api::start(Options::default());
    api.fg.commit_files("b", &[("f", "x")], "c");
    create_mr(&api, "b", "t");
    let notes = format!("{PROJECT}/merge_requests/1/notes");
    let (s, n) = body(api.form("POST", &notes, "body=Deploy+plan%3A+%60hello%60"));
    assert_eq!(s, 201, "{n}");
    assert_eq!(n["body"], "Deploy plan: `hello`");
    assert_eq!(n["system"], false);
    assert_eq!(n["noteable_iid"], 1);
    assert_eq!(n["author"]["username"], "gitops-bot");
    let id = n["id"].as_u64().unwrap();
    let human = api.fg.add_note(1, 2, "/approve");

    let (s, list) = body(api.get(&format!("{notes}?sort=asc")));
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[1]["author"]["username"], "operator");

    let (s, edited) = body(api.json("PUT", &format!("{notes}/{id}"), json!({"body": "edited"})));
    assert_eq!((s, edited["body"].clone()), (200, json!("edited")));
    let (s, _) = body(api.json(
        "PUT",
        &format!("{notes}/{human}"),
        json!({"body": "hijack"}),
    ));
    assert_eq!(s, 403);
    let (s, _) = body(api.json("PUT", &format!("{notes}/9999"), json!({"body": "x"})));
    assert_eq!(s, 404);
    let (s, b) = body(api.json("POST", &notes, json!({"body": "y".repeat(1_000_001)})));
    assert_eq!(s, 400);
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("is too long (maximum is 1000000 characters)")
    );
    assert_eq!(api.fg.notes(1)[0]["body"], "edited");
}

#[test]
fn fault_status_and_nth() {
    let api = Api::start(Options::default());
    api.fg
        .inject(Rule::new("GET", "/projects/42", Fault::rate_limited(1)).nth(2));
    assert_eq!(api.get(PROJECT).status(), 200);
    let r = api.get(PROJECT);
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    assert!(r.headers().contains_key("ratelimit-reset"));
    assert_eq!(api.get(PROJECT).status(), 200);

    api.fg
        .inject(Rule::new("*", "/user", Fault::status(503)).times(2));
    assert_eq!(api.get("/api/v4/user").status(), 503);
    assert_eq!(api.get("/api/v4/user").status(), 503);
    assert_eq!(api.get("/api/v4/user").status(), 200);
    let faulted: Vec<_> = api
        .fg
        .requests()
        .into_iter()
        .filter(|r| r.fault.is_some())
        .collect();
    assert_eq!(faulted.len(), 3);
    assert_eq!(faulted[0].fault.as_deref(), Some("status 429"));
}

#[test]
fn fault_drops() {
    let (api, _seed) = seeded();
    let commits = format!("{PROJECT}/repository/commits");
    api.fg.inject(Rule::new(
        "POST",
        "/repository/commits",
        Fault::DropBeforeApply,
    ));
    let err = api
        .req("POST", &commits)
        .json(
            &json!({"branch": "b1", "start_branch": "main", "commit_message": "m",
                      "actions": [{"action": "create", "file_path": "n", "content": "x"}]}),
        )
        .send();
    assert!(err.is_err());
    assert_eq!(api.fg.branch_head("b1"), None, "not applied");

    api.fg.inject(Rule::matching(
        |r| r.method == "POST" && r.decoded_path.ends_with("/repository/commits"),
        Fault::DropAfterApply,
    ));
    let err = api
        .req("POST", &commits)
        .json(
            &json!({"branch": "b2", "start_branch": "main", "commit_message": "m",
                      "actions": [{"action": "create", "file_path": "n", "content": "x"}]}),
        )
        .send();
    assert!(err.is_err(), "client cannot know it succeeded");
    let head = api.fg.branch_head("b2").expect("the commit exists");
    assert_eq!(api.fg.file(&head, "n").unwrap(), b"x");
    let w = api.fg.writes();
    assert_eq!(w.len(), 2);
    assert_eq!(w[0].status, None);
    assert!(
        w[1].fault
            .as_deref()
            .unwrap()
            .starts_with("drop after apply")
    );

    // DropAfterApply on MR creation: the MR exists.
    api.fg
        .inject(Rule::new("POST", "/merge_requests", Fault::DropAfterApply));
    assert!(
        api.req("POST", &format!("{PROJECT}/merge_requests"))
            .json(&json!({"source_branch": "b2", "target_branch": "main", "title": "t"}))
            .send()
            .is_err()
    );
    assert_eq!(api.fg.merge_requests().len(), 1);
}

#[test]
fn fault_delay_and_concurrent_push() {
    let (api, _seed) = seeded();
    api.fg.inject(Rule::new(
        "GET",
        "/user",
        Fault::Delay(Duration::from_millis(300)),
    ));
    let t = Instant::now();
    assert_eq!(api.get("/api/v4/user").status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(300));

    // The bot read main, a human pushes just before the bot writes.
    let values = "apps/hello/values.yaml";
    let read_head = api.fg.branch_head("main").unwrap();
    let last = api
        .fg
        .git(&["log", "-1", "--format=%H", &read_head, "--", values]);
    api.fg.inject(Rule::new(
        "POST",
        "/repository/commits",
        Fault::MoveBranchBefore {
            branch: "main".into(),
            files: vec![(values.into(), "human: 9.9.9\n".into())],
        },
    ));
    let (s, b) = body(api.json(
        "POST",
        &format!("{PROJECT}/repository/commits"),
        json!({"branch": "main", "commit_message": "bump",
               "actions": [{"action": "update", "file_path": values, "content": "bot\n",
                            "last_commit_id": last.trim()}]}),
    ));
    assert_eq!(s, 400, "{b}");
    assert_eq!(api.fg.file("main", values).unwrap(), b"human: 9.9.9\n");
    let moved = api.fg.branch_head("main").unwrap();
    assert_ne!(moved, read_head);
    let author = api.fg.git(&["log", "-1", "--format=%an", "main"]);
    assert_eq!(author.trim(), "operator");
}

#[test]
fn chunked_body_and_expect_continue() {
    let api = Api::start(Options::default());
    let addr = api.fg.url().trim_start_matches("http://").to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    let payload = json!({"branch": "c", "start_branch": "main", "commit_message": "chunked",
                         "actions": [{"action": "create", "file_path": "c.txt", "content": "chunk"}]})
    .to_string();
    let (a, b) = payload.split_at(10);
    write!(
        s,
        "POST {PROJECT}/repository/commits HTTP/1.1\r\nHost: {addr}\r\nPRIVATE-TOKEN: {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
        api.fg.token()
    )
    .unwrap();
    let mut buf = [0u8; 25];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"HTTP/1.1 100 Continue\r\n\r\n");
    write!(
        s,
        "{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 201 Created\r\n"), "{out}");
    assert!(out.contains("Connection: close"));
    assert_eq!(api.fg.file("c", "c.txt").unwrap(), b"chunk");
}

#[test]
fn concurrent_bots_lose_nothing() {
    let (api, _seed) = seeded();
    let api = std::sync::Arc::new(api);
    let handles: Vec<_> = (0..10)
        .map(|i| {
            let api = api.clone();
            std::thread::spawn(move || {
                let branch = format!("gitops/app-{i}");
                let (s, b) = body(commit_json(
                    &api,
                    &branch,
                    &format!("apps/app-{i}.yaml"),
                    "tag: 1\n",
                ));
                assert_eq!(s, 201, "{b}");
                let (s, b) = create_mr(&api, &branch, &format!("Bump app-{i}"));
                assert_eq!(s, 201, "{b}");
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mrs = api.fg.merge_requests();
    assert_eq!(mrs.len(), 10);
    let mut iids: Vec<u64> = mrs.iter().map(|m| m["iid"].as_u64().unwrap()).collect();
    iids.sort();
    assert_eq!(iids, (1..=10).collect::<Vec<_>>());
    assert_eq!(api.fg.branches().len(), 11);
    for i in 0..10 {
        let head = api.fg.branch_head(&format!("gitops/app-{i}")).unwrap();
        assert_eq!(
            api.fg.file(&head, &format!("apps/app-{i}.yaml")).unwrap(),
            b"tag: 1\n"
        );
        let mr = mrs
            .iter()
            .find(|m| m["source_branch"] == format!("gitops/app-{i}"))
            .unwrap();
        assert_eq!(mr["sha"], head.as_str());
    }
    assert!(api.fg.unknown_requests().is_empty());
}

// ---------------------------------------------------------------- merging

fn mr_get(api: &Api, iid: u64) -> Value {
    let (s, v) = body(api.get(&format!("{PROJECT}/merge_requests/{iid}")));
    assert_eq!(s, 200, "{v}");
    v
}

fn merge(api: &Api, iid: u64, params: Value) -> (u16, Value) {
    body(api.json(
        "PUT",
        &format!("{PROJECT}/merge_requests/{iid}/merge"),
        params,
    ))
}

/// A branch with one commit by the human and an MR (by the bot) from it.
fn branch_and_mr(api: &Api, branch: &str, file: &str, content: &str) -> (u64, String) {
    let head = api
        .fg
        .commit_files(branch, &[(file, content)], &format!("change {file}"));
    let (s, mr) = create_mr(api, branch, &format!("Bump {file}"));
    assert_eq!(s, 201, "{mr}");
    (mr["iid"].as_u64().unwrap(), head)
}

fn system_notes(api: &Api, iid: u64) -> Vec<String> {
    api.fg
        .notes(iid)
        .iter()
        .filter(|n| n["system"] == true)
        .map(|n| n["body"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn merge_creates_a_merge_commit_and_deletes_the_source() {
    let api = Api::start(Options::default());
    let (iid, head) = branch_and_mr(&api, "gitops/hello", "a.txt", "a\n");
    let main_before = api.fg.branch_head("main").unwrap();
    let mr = mr_get(&api, iid);
    assert_eq!(mr["detailed_merge_status"], "mergeable");
    assert_eq!(mr["merge_status"], "can_be_merged");
    assert_eq!(mr["head_pipeline"], Value::Null);
    assert_eq!(mr["user"]["can_merge"], true);
    assert_eq!(mr["author"]["bot"], true);

    let (s, mr) = merge(
        &api,
        iid,
        json!({"sha": head, "should_remove_source_branch": true}),
    );
    assert_eq!(s, 200, "{mr}");
    assert_eq!(mr["state"], "merged");
    assert_eq!(mr["merged_by"]["username"], "gitops-bot");
    assert_eq!(mr["merge_user"]["username"], "gitops-bot");
    assert!(mr["merged_at"].is_string());
    assert_eq!(mr["detailed_merge_status"], "not_open");
    let merge_sha = mr["merge_commit_sha"].as_str().unwrap().to_string();
    let main = api.fg.branch_head("main").unwrap();
    assert_eq!(main, merge_sha);
    assert_eq!(
        api.fg
            .git(&["rev-parse", &format!("{main}^1"), &format!("{main}^2")]),
        format!("{main_before}\n{head}\n")
    );
    let message = api.fg.git(&["log", "-1", "--format=%B", &main]);
    assert_eq!(
        message.trim_end(),
        "Merge branch 'gitops/hello' into 'main'\n\nBump a.txt\n\nSee merge request group/helloworld-ops!1"
    );
    assert_eq!(api.fg.file("main", "a.txt").unwrap(), b"a\n");
    assert_eq!(api.fg.branch_head("gitops/hello"), None, "source deleted");
    assert_eq!(system_notes(&api, iid), vec!["merged"]);
    // The sha of a merged MR stays the merged head.
    assert_eq!(mr_get(&api, iid)["sha"], head.as_str());
    // Merging again: not mergeable.
    let (s, b) = merge(&api, iid, json!({}));
    assert_eq!((s, b), (405, json!({"message": "405 Method Not Allowed"})));

    // Kept when not asked, with a custom message; form-encoded as the crate sends it.
    let (iid2, head2) = branch_and_mr(&api, "gitops/two", "b.txt", "b\n");
    let (s, mr) = body(api.form(
        "PUT",
        &format!("{PROJECT}/merge_requests/{iid2}/merge"),
        &format!("sha={head2}&merge_commit_message=Deploy+b"),
    ));
    assert_eq!(s, 200, "{mr}");
    assert_eq!(
        api.fg.branch_head("gitops/two").as_deref(),
        Some(head2.as_str())
    );
    let main = api.fg.branch_head("main").unwrap();
    assert_eq!(
        api.fg.git(&["log", "-1", "--format=%s", &main]).trim(),
        "Deploy b"
    );
    assert_eq!(api.fg.file("main", "a.txt").unwrap(), b"a\n");
    assert_eq!(api.fg.file("main", "b.txt").unwrap(), b"b\n");
}

#[test]
fn fast_forward_and_squash_merge_methods() {
    let api = Api::start(Options {
        merge_method: "ff".into(),
        ..Options::default()
    });
    let (iid, head) = branch_and_mr(&api, "ff", "a.txt", "a");
    let (s, mr) = merge(&api, iid, json!({"sha": head}));
    assert_eq!(s, 200, "{mr}");
    assert_eq!(api.fg.branch_head("main").as_deref(), Some(head.as_str()));
    assert_eq!(mr["merge_commit_sha"], Value::Null);
    // The target moved: the next MR needs a rebase.
    let (iid, _) = branch_and_mr(&api, "ff2", "b.txt", "b");
    api.fg
        .commit_files("main", &[("c.txt", "c")], "direct push");
    let mr = mr_get(&api, iid);
    assert_eq!(mr["detailed_merge_status"], "need_rebase");
    assert_eq!(merge(&api, iid, json!({})).0, 405);

    let api = Api::start(Options::default());
    let (iid, head) = branch_and_mr(&api, "sq", "a.txt", "a");
    api.fg.commit_files("sq", &[("a.txt", "a2")], "fixup");
    let (s, mr) = merge(&api, iid, json!({"squash": true}));
    assert_eq!(s, 200, "{mr}");
    assert_eq!(mr["squash"], true);
    let squash = mr["squash_commit_sha"].as_str().unwrap();
    assert_ne!(squash, head);
    let main = api.fg.branch_head("main").unwrap();
    assert_eq!(
        api.fg.git(&["rev-parse", &format!("{main}^2")]).trim(),
        squash
    );
    assert_eq!(
        api.fg.git(&["log", "-1", "--format=%s", squash]).trim(),
        "Bump a.txt"
    );
    assert_eq!(api.fg.file("main", "a.txt").unwrap(), b"a2");
}

#[test]
fn merge_refusals() {
    let api = Api::start(Options::default());
    let (iid, head) = branch_and_mr(&api, "gitops/hello", "a.txt", "a");
    let main = api.fg.branch_head("main").unwrap();

    // 409: the operator saw another commit.
    let newer = api
        .fg
        .commit_files("gitops/hello", &[("a.txt", "a2")], "more");
    let (s, b) = merge(&api, iid, json!({"sha": head}));
    assert_eq!(
        (s, b),
        (
            409,
            json!({"message": format!("SHA does not match HEAD of source branch: {newer}")})
        )
    );

    // 405: draft, with GitLab's system note.
    api.fg.set_draft(iid, true);
    let mr = mr_get(&api, iid);
    assert_eq!(mr["title"], "Draft: Bump a.txt");
    assert_eq!(
        (mr["draft"].clone(), mr["detailed_merge_status"].clone()),
        (json!(true), json!("draft_status"))
    );
    assert_eq!(merge(&api, iid, json!({"sha": newer})).0, 405);
    api.fg.set_draft(iid, false);
    assert_eq!(mr_get(&api, iid)["title"], "Bump a.txt");
    assert!(
        system_notes(&api, iid).contains(&"marked this merge request as **draft**".to_string())
    );

    // 405: unresolved threads; forced status.
    api.fg.set_discussions_resolved(iid, false);
    assert_eq!(
        mr_get(&api, iid)["detailed_merge_status"],
        "discussions_not_resolved"
    );
    assert_eq!(merge(&api, iid, json!({})).0, 405);
    api.fg.set_discussions_resolved(iid, true);
    api.fg.set_detailed_merge_status(iid, "not_approved");
    assert_eq!(mr_get(&api, iid)["detailed_merge_status"], "not_approved");
    assert_eq!(merge(&api, iid, json!({})).0, 405);
    api.fg.clear_detailed_merge_status(iid);

    // 405: conflicts GitLab knows about.
    api.fg.set_conflicts(iid, true);
    let mr = mr_get(&api, iid);
    assert_eq!(mr["has_conflicts"], true);
    assert_eq!(mr["merge_status"], "cannot_be_merged");
    assert_eq!(mr["detailed_merge_status"], "conflict");
    assert_eq!(merge(&api, iid, json!({})).0, 405);
    api.fg.set_conflicts(iid, false);

    // 422: a real conflict found while merging; nothing moves.
    api.fg
        .commit_files("main", &[("a.txt", "theirs")], "conflicting");
    let main_now = api.fg.branch_head("main").unwrap();
    assert_ne!(main_now, main);
    let (s, b) = merge(&api, iid, json!({"sha": newer}));
    assert_eq!((s, b), (422, json!({"message": "Branch cannot be merged"})));
    assert_eq!(api.fg.branch_head("main"), Some(main_now));
    assert_eq!(mr_get(&api, iid)["state"], "opened");

    // 405: closed.
    api.fg.close_mr(iid);
    assert_eq!(merge(&api, iid, json!({})).0, 405);
    assert_eq!(merge(&api, 99, json!({})).0, 404);

    // 401: the token's user may not merge (a Reporter).
    let api = Api::start(Options {
        members: vec![(1, fake_gitlab::REPORTER), (2, fake_gitlab::MAINTAINER)],
        ..Options::default()
    });
    let (iid, head) = branch_and_mr(&api, "b", "a.txt", "a");
    assert_eq!(mr_get(&api, iid)["user"]["can_merge"], false);
    let (s, b) = merge(&api, iid, json!({"sha": head}));
    assert_eq!((s, b), (401, json!({"message": "401 Unauthorized"})));
}

#[test]
fn merge_when_pipeline_succeeds() {
    let api = Api::start(Options {
        only_allow_merge_if_pipeline_succeeds: true,
        ..Options::default()
    });
    let (iid, head) = branch_and_mr(&api, "gitops/hello", "a.txt", "a");
    assert_eq!(mr_get(&api, iid)["detailed_merge_status"], "ci_must_pass");
    api.fg.set_pipeline(iid, Some("running"));
    let mr = mr_get(&api, iid);
    assert_eq!(mr["detailed_merge_status"], "ci_still_running");
    assert_eq!(mr["head_pipeline"]["status"], "running");
    assert_eq!(mr["head_pipeline"]["sha"], head.as_str());
    assert_eq!(mr["pipeline"]["id"], mr["head_pipeline"]["id"]);

    // Without MWPS: not now.
    let (s, b) = merge(&api, iid, json!({"sha": head}));
    assert_eq!((s, b), (405, json!({"message": "405 Method Not Allowed"})));
    // With it: 200, still open, armed.
    let (s, mr) = merge(
        &api,
        iid,
        json!({"sha": head, "merge_when_pipeline_succeeds": true, "should_remove_source_branch": true}),
    );
    assert_eq!(s, 200, "{mr}");
    assert_eq!(mr["state"], "opened");
    assert_eq!(mr["merge_when_pipeline_succeeds"], true);
    assert_eq!(mr["merge_user"]["username"], "gitops-bot");
    assert_eq!(mr["merge_commit_sha"], Value::Null);
    assert_eq!(
        system_notes(&api, iid),
        vec![format!(
            "enabled an automatic merge when the pipeline for {head} succeeds"
        )]
    );
    // The pipeline succeeds: it really merges.
    api.fg.set_pipeline(iid, Some("success"));
    let mr = mr_get(&api, iid);
    assert_eq!(mr["state"], "merged", "{mr}");
    assert_eq!(mr["merge_when_pipeline_succeeds"], false);
    assert_eq!(api.fg.file("main", "a.txt").unwrap(), b"a");
    assert_eq!(api.fg.branch_head("gitops/hello"), None);
    assert_eq!(system_notes(&api, iid).last().unwrap(), "merged");

    // `auto_merge` alias; a push aborts it, a later success merges nothing.
    let (iid, head) = branch_and_mr(&api, "gitops/two", "b.txt", "b");
    api.fg.set_pipeline(iid, Some("pending"));
    let (s, mr) = merge(&api, iid, json!({"sha": head, "auto_merge": true}));
    assert_eq!(
        (s, mr["merge_when_pipeline_succeeds"].clone()),
        (200, json!(true))
    );
    api.fg
        .commit_files("gitops/two", &[("b.txt", "b2")], "sneaky");
    let mr = mr_get(&api, iid);
    assert_eq!(mr["merge_when_pipeline_succeeds"], false);
    assert_eq!(
        mr["head_pipeline"],
        Value::Null,
        "no pipeline for the new head yet"
    );
    assert!(
        system_notes(&api, iid)
            .contains(&"aborted the automatic merge because source branch was updated".to_string())
    );
    api.fg.set_pipeline(iid, Some("success"));
    assert_eq!(mr_get(&api, iid)["state"], "opened");
    // Cancel: nothing armed.
    let (s, _) = body(api.json(
        "POST",
        &format!("{PROJECT}/merge_requests/{iid}/cancel_merge_when_pipeline_succeeds"),
        json!({}),
    ));
    assert_eq!(s, 406);
    // Failed pipeline with MWPS asked: 405 (MWPS needs a running pipeline).
    api.fg.set_pipeline(iid, Some("failed"));
    assert_eq!(mr_get(&api, iid)["detailed_merge_status"], "ci_must_pass");
    let (s, _) = merge(&api, iid, json!({"merge_when_pipeline_succeeds": true}));
    assert_eq!(s, 405);

    // GitLab's default ("Pipelines must succeed" off): a running pipeline
    // does not block an immediate merge.
    let api = Api::start(Options::default());
    let (iid, head) = branch_and_mr(&api, "c", "c.txt", "c");
    api.fg.set_pipeline(iid, Some("running"));
    assert_eq!(mr_get(&api, iid)["detailed_merge_status"], "mergeable");
    let (s, mr) = merge(&api, iid, json!({"sha": head}));
    assert_eq!((s, mr["state"].clone()), (200, json!("merged")));
}

#[test]
fn scripted_detailed_merge_status() {
    let api = Api::start(Options::default());
    let (iid, head) = branch_and_mr(&api, "b", "a.txt", "a");
    api.fg
        .script_detailed_merge_status(iid, &["checking", "checking", "mergeable"]);
    // Lists and hooks do not consume the script.
    let (_, list) = body(api.get(&format!("{PROJECT}/merge_requests")));
    assert_eq!(list[0]["detailed_merge_status"], "checking");
    assert_eq!(
        api.fg.note_hook(iid, api.fg.add_note(iid, 2, "hi"))["merge_request"]["detailed_merge_status"],
        "checking"
    );
    let first = mr_get(&api, iid);
    assert_eq!(first["detailed_merge_status"], "checking");
    assert_eq!(first["merge_status"], "checking");
    // Merging while GitLab is still checking: 405.
    assert_eq!(merge(&api, iid, json!({"sha": head})).0, 405);
    assert_eq!(mr_get(&api, iid)["detailed_merge_status"], "checking");
    for _ in 0..3 {
        assert_eq!(mr_get(&api, iid)["detailed_merge_status"], "mergeable");
    }
    assert_eq!(merge(&api, iid, json!({"sha": head})).0, 200);
}

#[test]
fn versions_are_ordered_with_notes() {
    let api = Api::start(Options::default());
    let (iid, v1) = branch_and_mr(&api, "b", "a.txt", "a");
    let start = api.fg.branch_head("main").unwrap();
    let seen = api.fg.add_note(iid, 2, "gitops-bot deploy");
    let v2 = api.fg.commit_files("b", &[("a.txt", "a2")], "second");
    let (s, c) = body(commit_json(&api, "b", "new.txt", "n"));
    assert_eq!(s, 201, "{c}");
    let v3 = c["id"].as_str().unwrap().to_string();

    let (s, versions) = body(api.get(&format!("{PROJECT}/merge_requests/{iid}/versions")));
    assert_eq!(s, 200);
    let versions = versions.as_array().unwrap().clone();
    assert_eq!(versions, api.fg.versions(iid));
    let heads: Vec<&str> = versions
        .iter()
        .map(|v| v["head_commit_sha"].as_str().unwrap())
        .collect();
    assert_eq!(
        heads,
        vec![v3.as_str(), v2.as_str(), v1.as_str()],
        "newest first"
    );
    let times: Vec<&str> = versions
        .iter()
        .map(|v| v["created_at"].as_str().unwrap())
        .collect();
    assert!(times[0] > times[1] && times[1] > times[2], "{times:?}");
    for v in &versions {
        assert_eq!(v["start_commit_sha"], start.as_str());
        assert_eq!(v["base_commit_sha"], start.as_str());
        assert_eq!(v["merge_request_id"], 1001);
        assert_eq!(v["state"], "collected");
        assert!(v["real_size"].is_string());
        assert_eq!(v["created_at"].as_str().unwrap().len(), 24, "ms and Z");
    }
    assert_eq!(versions[0]["real_size"], "2");
    // The operator's note came after version 1 and before version 2.
    let (_, note) = body(api.get(&format!("{PROJECT}/merge_requests/{iid}/notes/{seen}")));
    let at = note["created_at"].as_str().unwrap();
    assert!(times[2] < at && at < times[1], "{at} vs {times:?}");
    // Pushes add GitLab's system note.
    let pushes: Vec<String> = system_notes(&api, iid)
        .into_iter()
        .filter(|b| b.starts_with("added 1 commit\n\n<ul><li>"))
        .collect();
    assert_eq!(pushes.len(), 2, "{pushes:?}");
    assert!(pushes[0].contains(&format!("{} - second", &v2[..8])));
}

#[test]
fn notes_get_sort_and_human_edit() {
    let api = Api::start(Options::default());
    let (iid, _) = branch_and_mr(&api, "b", "a.txt", "a");
    let a = api.fg.add_note(iid, 2, "gitops-bot deploy");
    let b = api.fg.add_note(iid, 3, "looks good");
    let notes = format!("{PROJECT}/merge_requests/{iid}/notes");
    let (s, n) = body(api.get(&format!("{notes}/{a}")));
    assert_eq!(s, 200);
    assert_eq!(n["author"]["username"], "operator");
    assert_eq!(n["author"]["id"], 2);
    assert_eq!(
        (n["noteable_type"].clone(), n["noteable_iid"].clone()),
        (json!("MergeRequest"), json!(iid))
    );
    for k in ["system", "resolvable", "confidential", "internal"] {
        assert_eq!(n[k], false, "{k}");
    }
    assert_eq!(n["created_at"], n["updated_at"]);
    assert_eq!(body(api.get(&format!("{notes}/999"))).0, 404);
    assert_eq!(
        api.fg.note_hook(iid, a)["object_attributes"]["action"],
        "create"
    );

    api.fg.edit_note(iid, a, "gitops-bot deploy please");
    let (_, n) = body(api.get(&format!("{notes}/{a}")));
    assert_eq!(n["body"], "gitops-bot deploy please");
    assert!(n["updated_at"].as_str().unwrap() > n["created_at"].as_str().unwrap());
    let ids = |q: &str| -> Vec<u64> {
        let (_, l) = body(api.get(&format!("{notes}?{q}")));
        l.as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(ids("sort=asc"), vec![a, b]);
    assert_eq!(ids("sort=desc"), vec![b, a]);
    assert_eq!(ids("sort=asc&order_by=updated_at"), vec![b, a]);
    assert_eq!(ids("order_by=updated_at"), vec![a, b], "desc by default");
    let hook = api.fg.note_hook(iid, a);
    assert_eq!(hook["object_attributes"]["action"], "update");
    assert_eq!(
        hook["object_attributes"]["note"],
        "gitops-bot deploy please"
    );
}

#[test]
fn award_emoji() {
    let api = Api::start(Options::default());
    let (iid, _) = branch_and_mr(&api, "b", "a.txt", "a");
    let note = api.fg.add_note(iid, 2, "gitops-bot deploy");
    let on_mr = format!("{PROJECT}/merge_requests/{iid}/award_emoji");
    let on_note = format!("{PROJECT}/merge_requests/{iid}/notes/{note}/award_emoji");

    let (s, a) = body(api.json("POST", &on_note, json!({"name": "eyes"})));
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["name"], "eyes");
    assert_eq!(a["user"]["username"], "gitops-bot");
    assert_eq!(a["user"]["id"], 1);
    assert_eq!(
        (a["awardable_id"].clone(), a["awardable_type"].clone()),
        (json!(note), json!("Note"))
    );
    let eyes = a["id"].as_u64().unwrap();
    let (s, b) = body(api.json("POST", &on_note, json!({"name": "eyes"})));
    assert_eq!(
        (s, b),
        (
            404,
            json!({"message": "404 Award Emoji Name has already been taken Not Found"})
        )
    );
    let (s, b) = body(api.form("POST", &on_note, "name=%3Arocket%3A"));
    assert_eq!(
        (s, b),
        (
            404,
            json!({"message": "404 Award Emoji Name is not a valid emoji name Not Found"})
        )
    );
    let (s, b) = body(api.json("POST", &on_note, json!({})));
    assert_eq!((s, b), (400, json!({"error": "name is missing"})));
    let (s, _) = body(api.json(
        "POST",
        &format!("{PROJECT}/merge_requests/{iid}/notes/777/award_emoji"),
        json!({"name": "eyes"}),
    ));
    assert_eq!(s, 404);

    // On the MR itself; a human's reaction too.
    let (s, a) = body(api.form("POST", &on_mr, "name=rocket"));
    assert_eq!(
        (s, a["awardable_type"].clone(), a["awardable_id"].clone()),
        (201, json!("MergeRequest"), json!(1001))
    );
    let human = api.fg.award(iid, None, 2, "thumbsup");
    assert_eq!(mr_get(&api, iid)["upvotes"], 1);
    let (_, list) = body(api.get(&on_mr));
    assert_eq!(list.as_array().unwrap().len(), 2);
    let (s, got) = body(api.get(&format!("{on_note}/{eyes}")));
    assert_eq!((s, got["name"].clone()), (200, json!("eyes")));
    assert_eq!(
        api.fg.awards(iid, None),
        vec![
            ("gitops-bot".to_string(), "rocket".to_string()),
            ("operator".to_string(), "thumbsup".to_string())
        ]
    );
    assert_eq!(
        api.fg.awards(iid, Some(note)),
        vec![("gitops-bot".to_string(), "eyes".to_string())]
    );

    // Only one's own reaction can be removed.
    let (s, _) = body(
        api.req("DELETE", &format!("{on_mr}/{human}"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 401);
    let r = api
        .req("DELETE", &format!("{on_note}/{eyes}"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert!(api.fg.awards(iid, Some(note)).is_empty());
    let (s, b) = body(
        api.req("DELETE", &format!("{on_note}/{eyes}"))
            .send()
            .unwrap(),
    );
    assert_eq!((s, b), (404, json!({"message": "404 Not found"})));
    // Awarding again after removing is fine.
    assert_eq!(
        body(api.json("POST", &on_note, json!({"name": "eyes"}))).0,
        201
    );
}

#[test]
fn members_user_and_mr_filters() {
    let api = Api::start(Options {
        users: vec![
            (2, "operator".into()),
            (3, "reviewer".into()),
            (4, "lead".into()),
        ],
        group_members: vec![(4, fake_gitlab::OWNER), (2, fake_gitlab::GUEST)],
        ..Options::default()
    });
    let (s, m) = body(api.get(&format!("{PROJECT}/members/all/2")));
    assert_eq!(s, 200);
    for k in ["id", "username", "name", "state", "access_level"] {
        assert!(!m[k].is_null(), "{k}: {m}");
    }
    assert_eq!(m["access_level"], 40, "direct membership wins");
    let (s, m) = body(api.get(&format!("{PROJECT}/members/all/4")));
    assert_eq!((s, m["access_level"].clone()), (200, json!(50)));
    let (s, b) = body(api.get(&format!("{PROJECT}/members/4")));
    assert_eq!(
        (s, b),
        (404, json!({"message": "404 Not found"})),
        "inherited only"
    );
    assert_eq!(body(api.get(&format!("{PROJECT}/members/2"))).0, 200);
    assert_eq!(body(api.get(&format!("{PROJECT}/members/all/99"))).0, 404);

    let (_, me) = body(api.get("/api/v4/user"));
    assert_eq!(
        (me["id"].clone(), me["username"].clone(), me["bot"].clone()),
        (json!(1), json!("gitops-bot"), json!(true))
    );

    api.fg.commit_files("x", &[("f", "x")], "c");
    api.fg.commit_files("y", &[("f", "y")], "c");
    let (_, one) = body(api.json(
        "POST",
        &format!("{PROJECT}/merge_requests"),
        json!({"source_branch": "x", "target_branch": "main", "title": "x", "labels": "gitops,env::prod"}),
    ));
    create_mr(&api, "y", "y");
    api.fg.close_mr(2);
    let iids = |q: &str| -> Vec<u64> {
        let (s, l) = body(api.get(&format!("{PROJECT}/merge_requests?{q}")));
        assert_eq!(s, 200, "{q}: {l}");
        l.as_array()
            .unwrap()
            .iter()
            .map(|m| m["iid"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(one["labels"], json!(["gitops", "env::prod"]));
    assert_eq!(
        iids("author_username=gitops-bot&state=opened&scope=all"),
        vec![1]
    );
    assert_eq!(iids("author_id=1"), vec![2, 1]);
    assert_eq!(iids("author_id=2"), Vec::<u64>::new());
    assert_eq!(iids("labels=env%3A%3Aprod,gitops"), vec![1]);
    assert_eq!(iids("scope=created_by_me&state=closed"), vec![2]);
    assert_eq!(iids("scope=assigned_to_me"), Vec::<u64>::new());
    assert_eq!(
        body(api.get(&format!("{PROJECT}/merge_requests?scope=mine"))).0,
        400
    );
}

#[test]
fn webhook_payloads() {
    let api = Api::start(Options::default());
    let (_, mr) = body(api.json(
        "POST",
        &format!("{PROJECT}/merge_requests"),
        json!({"source_branch": "main", "target_branch": "main", "title": "x"}),
    ));
    assert_eq!(
        mr["message"][0],
        "You can't use same project/branch for source and target"
    );
    let head = api.fg.commit_files("b", &[("a.txt", "a")], "change a");
    let (_, mr) = body(api.json(
        "POST",
        &format!("{PROJECT}/merge_requests"),
        json!({"source_branch": "b", "target_branch": "main", "title": "Bump a", "labels": "gitops", "assignee_ids": [2]}),
    ));
    let iid = mr["iid"].as_u64().unwrap();
    let note = api.fg.add_note(iid, 2, "gitops-bot deploy");
    let h = api.fg.note_hook(iid, note);
    assert_eq!(fake_gitlab::NOTE_HOOK, "Note Hook");
    assert_eq!(
        (h["object_kind"].clone(), h["event_type"].clone()),
        (json!("note"), json!("note"))
    );
    assert_eq!(h["user"]["username"], "operator");
    assert_eq!(h["user"]["id"], 2);
    assert_eq!(h["project_id"], 42);
    assert_eq!(h["project"]["path_with_namespace"], "group/helloworld-ops");
    assert_eq!(h["project"]["web_url"], api.fg.project_web_url());
    let oa = &h["object_attributes"];
    assert_eq!(oa["id"], note);
    assert_eq!(oa["note"], "gitops-bot deploy");
    assert_eq!(oa["noteable_type"], "MergeRequest");
    assert_eq!(oa["noteable_id"], 1001);
    assert_eq!(oa["author_id"], 2);
    assert_eq!(oa["system"], false);
    assert_eq!(oa["action"], "create");
    assert_eq!(
        oa["url"],
        format!(
            "{}/-/merge_requests/{iid}#note_{note}",
            api.fg.project_web_url()
        )
    );
    let at = oa["created_at"].as_str().unwrap();
    assert!(at.ends_with(" UTC") && at.len() == 23, "{at}");
    let m = &h["merge_request"];
    assert_eq!(
        (m["id"].clone(), m["iid"].clone()),
        (json!(1001), json!(iid))
    );
    assert_eq!(
        (m["source_branch"].clone(), m["target_branch"].clone()),
        (json!("b"), json!("main"))
    );
    assert_eq!(m["state"], "opened");
    assert_eq!(m["author_id"], 1);
    assert_eq!(m["last_commit"]["id"], head.as_str());
    assert_eq!(m["last_commit"]["title"], "change a");
    assert_eq!(m["labels"][0]["title"], "gitops");
    assert_eq!(m["assignee"]["username"], "operator");
    assert_eq!(m["detailed_merge_status"], "mergeable");

    let h = api.fg.merge_request_hook(iid, "approved", 2);
    assert_eq!(fake_gitlab::MERGE_REQUEST_HOOK, "Merge Request Hook");
    assert_eq!(
        (h["object_kind"].clone(), h["event_type"].clone()),
        (json!("merge_request"), json!("merge_request"))
    );
    assert_eq!(h["user"]["username"], "operator");
    assert_eq!(h["project"]["id"], 42);
    let oa = &h["object_attributes"];
    assert_eq!(
        (oa["iid"].clone(), oa["id"].clone(), oa["action"].clone()),
        (json!(iid), json!(1001), json!("approved"))
    );
    assert_eq!(oa["state"], "opened");
    assert_eq!(oa["state_id"], 1);
    assert_eq!(oa["last_commit"]["id"], head.as_str());
    assert_eq!(
        (
            oa["source_branch"].clone(),
            oa["target_branch"].clone(),
            oa["author_id"].clone()
        ),
        (json!("b"), json!("main"), json!(1))
    );
    assert!(oa["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(h["labels"][0]["title"], "gitops");
    assert_eq!(h["changes"], json!({}));
    assert_eq!(h["assignees"][0]["username"], "operator");
}

#[test]
fn deployments_are_listed_filtered_ordered_and_validated_as_gitlab_does() {
    let api = Api::start(Options::default());
    let dev1 = api.fg.add_deployment("dev", "aaa", "success");
    let prod = api.fg.add_deployment("prod", "bbb", "success");
    let dev2 = api.fg.add_deployment("dev", "ccc", "running");
    api.fg.age_deployment(dev1, Duration::from_secs(3600));

    let (code, list) = body(api.get(&format!(
        "{PROJECT}/deployments?environment=dev&order_by=id&sort=desc"
    )));
    assert_eq!(code, 200);
    let ids: Vec<u64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [dev2, dev1]);
    assert_eq!(list[0]["finished_at"], Value::Null, "running: not finished");
    assert_eq!(list[1]["status"], "success");
    let finished = list[1]["finished_at"].as_str().unwrap();
    let updated = list[1]["updated_at"].as_str().unwrap();
    assert_eq!(finished, updated);
    assert!(
        finished < list[0]["created_at"].as_str().unwrap(),
        "aged an hour into the past: {finished}"
    );
    let (_, all) = body(api.get(&format!("{PROJECT}/deployments")));
    assert_eq!(
        all.as_array().unwrap().len(),
        3,
        "no filter: all, ascending"
    );
    assert_eq!(all[0]["id"].as_u64(), Some(dev1));
    assert_eq!(all[1]["id"].as_u64(), Some(prod));

    for query in [
        "order_by=ref",
        "sort=down",
        "status=done",
        "updated_after=2026-01-01T00:00:00Z",
        "finished_after=2026-01-01T00:00:00Z&order_by=finished_at",
        "order_by=finished_at",
        "order_by=updated_at&updated_after=2026-01-01T00:00:00Z&finished_before=2026-01-01T00:00:00Z",
    ] {
        let (code, error) = body(api.get(&format!("{PROJECT}/deployments?{query}")));
        assert_eq!(code, 400, "{query}: {error}");
    }
    let (code, _) = body(api.get(&format!(
        "{PROJECT}/deployments?order_by=finished_at&status=success"
    )));
    assert_eq!(code, 200);
}

#[test]
fn issues_their_notes_and_the_award_emoji_on_them() {
    let api = Api::start(Options::default());
    let iid = api.fg.add_issue_as(2, "by hand", &["gitops-bot::drift"]);
    let (s, issue) = body(api.get(&format!("{PROJECT}/issues/{iid}")));
    assert_eq!(s, 200);
    assert_eq!(
        (
            issue["iid"].clone(),
            issue["author"]["username"].clone(),
            issue["labels"].clone()
        ),
        (json!(iid), json!("operator"), json!(["gitops-bot::drift"]))
    );
    let (s, _) = body(api.get(&format!("{PROJECT}/issues/99")));
    assert_eq!(s, 404);

    let first = api.fg.add_issue_note(iid, 2, "gitops-bot status");
    let (s, created) = body(api.form(
        "POST",
        &format!("{PROJECT}/issues/{iid}/notes"),
        "body=answer",
    ));
    assert_eq!(s, 201);
    assert_eq!(created["author"]["username"], "gitops-bot");
    assert_eq!(created["noteable_type"], "Issue");
    let (s, notes) = body(api.get(&format!(
        "{PROJECT}/issues/{iid}/notes?sort=asc&order_by=created_at"
    )));
    assert_eq!(s, 200);
    let bodies: Vec<&str> = notes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["gitops-bot status", "answer"]);
    let (s, one) = body(api.get(&format!("{PROJECT}/issues/{iid}/notes/{first}")));
    assert_eq!(
        (s, one["author"]["username"].clone()),
        (200, json!("operator"))
    );
    let (s, _) = body(api.get(&format!("{PROJECT}/issues/{iid}/notes/9999")));
    assert_eq!(s, 404);
    assert_eq!(api.fg.issues()[0].notes, ["gitops-bot status", "answer"]);

    let awards = format!("{PROJECT}/issues/{iid}/notes/{first}/award_emoji");
    let (s, a) = body(api.json("POST", &awards, json!({"name": "eyes"})));
    assert_eq!((s, a["awardable_id"].clone()), (201, json!(first)), "{a}");
    let eyes = a["id"].as_u64().unwrap();
    let (s, b) = body(api.json("POST", &awards, json!({"name": "eyes"})));
    assert_eq!(
        (s, b),
        (
            404,
            json!({"message": "404 Award Emoji Name has already been taken Not Found"})
        )
    );
    let (s, _) = body(api.form("POST", &awards, "name=%3Arocket%3A"));
    assert_eq!(s, 404);
    let (s, list) = body(api.get(&awards));
    assert_eq!((s, list.as_array().unwrap().len()), (200, 1));
    assert_eq!(
        api.fg.issue_awards(iid, first),
        [("gitops-bot".to_string(), "eyes".to_string())]
    );
    let r = api
        .req("DELETE", &format!("{awards}/{eyes}"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert!(api.fg.issue_awards(iid, first).is_empty());

    let hook = api.fg.issue_note_hook(iid, first);
    assert_eq!(hook["object_attributes"]["noteable_type"], "Issue");
    assert_eq!(hook["object_attributes"]["action"], "create");
    assert_eq!(hook["issue"]["iid"], json!(iid));
    assert_eq!(hook["issue"]["author_id"], json!(2));
    assert_eq!(hook["issue"]["labels"][0]["title"], "gitops-bot::drift");
}
