//! Self-test of the fake GitLab used by the integration tests.

mod fake_gitlab;

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
