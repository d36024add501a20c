//! The bare repository behind the fake, driven only through the `git` CLI.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

pub const ZERO_OID: &str = "0000000000000000000000000000000000000000";

/// Fixed identity of the fake server itself (committer of every commit).
pub const SERVER_NAME: &str = "GitLab Fake";
pub const SERVER_EMAIL: &str = "fake-gitlab@example.com";

pub struct Repo {
    pub dir: PathBuf,
    home: PathBuf,
    /// Serialises every ref-changing operation.
    pub write_lock: Mutex<()>,
    counter: AtomicU64,
    /// Archives by (sha, prefix): GitLab caches generated archives too, and a commit's
    /// archive never changes.
    archive_cache: Mutex<std::collections::HashMap<(String, String), Vec<u8>>>,
}

#[derive(Debug, Clone)]
pub struct CommitInfo {
    pub id: String,
    pub parent_ids: Vec<String>,
    pub author_name: String,
    pub author_email: String,
    pub authored_date: String,
    pub committer_name: String,
    pub committer_email: String,
    pub committed_date: String,
    pub message: String,
}

impl CommitInfo {
    pub fn title(&self) -> String {
        self.message.lines().next().unwrap_or("").to_string()
    }
}

/// One entry of a tree: mode and blob id.
pub type Entry = (String, String);

/// One file change, already validated by the caller.
pub enum Change {
    /// Write `content` at `path` with `mode`.
    Write {
        path: String,
        mode: String,
        content: Vec<u8>,
    },
    /// Point `path` at an existing blob (a move without new content, a chmod).
    Blob {
        path: String,
        mode: String,
        oid: String,
    },
    Remove(String),
}

impl Repo {
    pub fn init(root: &Path, default_branch: &str, seed: Option<&Path>) -> Repo {
        let home = root.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let dir = root.join("repo.git");
        let repo = Repo {
            dir: dir.clone(),
            home,
            write_lock: Mutex::new(()),
            counter: AtomicU64::new(0),
            archive_cache: Mutex::default(),
        };
        let out = repo
            .command(root)
            .args(["-c", "init.defaultBranch=main", "init", "--bare", "--quiet"])
            .arg(&dir)
            .output()
            .expect("run git init");
        assert!(out.status.success(), "git init: {out:?}");
        repo.run(&[
            "symbolic-ref",
            "HEAD",
            &format!("refs/heads/{default_branch}"),
        ])
        .unwrap();

        let mut changes = Vec::new();
        match seed {
            Some(seed) => {
                for entry in walkdir::WalkDir::new(seed).sort_by_file_name() {
                    let entry = entry.expect("walk seed dir");
                    if entry.file_type().is_dir() {
                        continue;
                    }
                    let rel = entry.path().strip_prefix(seed).unwrap();
                    if rel.components().any(|c| c.as_os_str() == ".git") {
                        continue;
                    }
                    let path = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join("/");
                    let (mode, content) = if entry.file_type().is_symlink() {
                        let target = std::fs::read_link(entry.path()).unwrap();
                        (
                            "120000".to_string(),
                            target.to_string_lossy().into_owned().into_bytes(),
                        )
                    } else {
                        (
                            file_mode(entry.path()),
                            std::fs::read(entry.path()).expect("read seed file"),
                        )
                    };
                    changes.push(Change::Write {
                        path,
                        mode,
                        content,
                    });
                }
            }
            None => changes.push(Change::Write {
                path: "README.md".into(),
                mode: "100644".into(),
                content: b"# config repository\n".to_vec(),
            }),
        }
        let tree = repo.write_tree(None, &changes).expect("seed tree");
        let sha = repo
            .commit_tree(&tree, None, "Initial commit", None)
            .expect("seed commit");
        repo.update_ref(default_branch, &sha, None)
            .expect("seed ref");
        repo
    }

    fn command(&self, cwd: &Path) -> Command {
        let mut cmd = Command::new("git");
        cmd.current_dir(cwd)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.home.join(".gitconfig"))
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", &self.home)
            .env("GIT_AUTHOR_NAME", SERVER_NAME)
            .env("GIT_AUTHOR_EMAIL", SERVER_EMAIL)
            .env("GIT_COMMITTER_NAME", SERVER_NAME)
            .env("GIT_COMMITTER_EMAIL", SERVER_EMAIL)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .env_remove("GIT_OBJECT_DIRECTORY")
            .env_remove("GIT_NAMESPACE");
        cmd
    }

    /// Runs git in the bare repo; `Err(stderr)` on failure.
    pub fn run_with(
        &self,
        args: &[&str],
        stdin: Option<&[u8]>,
        env: &[(&str, &str)],
    ) -> Result<Vec<u8>, String> {
        let mut cmd = self.command(&self.dir);
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("spawn git: {e}"))?;
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            let input = input.to_vec();
            // Write on a thread so a large input cannot deadlock against stdout.
            let writer = std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            });
            let out = child.wait_with_output().map_err(|e| e.to_string())?;
            let _ = writer.join();
            return finish(args, out);
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        finish(args, out)
    }

    pub fn run(&self, args: &[&str]) -> Result<Vec<u8>, String> {
        self.run_with(args, None, &[])
    }

    pub fn run_str(&self, args: &[&str]) -> Result<String, String> {
        self.run(args)
            .map(|o| String::from_utf8_lossy(&o).trim_end().to_string())
    }

    /// Resolves a branch name, tag or sha (full or abbreviated) to a commit id.
    pub fn resolve_commit(&self, rev: &str) -> Option<String> {
        if rev.is_empty() || rev.starts_with('-') {
            return None;
        }
        self.run_str(&[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &format!("{rev}^{{commit}}"),
        ])
        .ok()
        .filter(|s| !s.is_empty())
    }

    pub fn branch_head(&self, branch: &str) -> Option<String> {
        if branch.is_empty() {
            return None;
        }
        self.run_str(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}^{{commit}}"),
        ])
        .ok()
        .filter(|s| !s.is_empty())
    }

    /// All branches and their heads.
    pub fn branches(&self) -> BTreeMap<String, String> {
        let out = self
            .run_str(&[
                "for-each-ref",
                "--format=%(objectname) %(refname:strip=2)",
                "refs/heads/",
            ])
            .unwrap_or_default();
        out.lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(sha, name)| (name.to_string(), sha.to_string()))
            .collect()
    }

    pub fn merge_base(&self, a: &str, b: &str) -> Option<String> {
        self.run_str(&["merge-base", a, b])
            .ok()
            .filter(|s| !s.is_empty())
    }

    pub fn commit_info(&self, sha: &str) -> Option<CommitInfo> {
        let out = self
            .run(&[
                "show",
                "-s",
                "--format=%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B",
                sha,
                "--",
            ])
            .ok()?;
        let text = String::from_utf8_lossy(&out).into_owned();
        let f: Vec<&str> = text.splitn(9, '\0').collect();
        if f.len() < 9 {
            return None;
        }
        Some(CommitInfo {
            id: f[0].to_string(),
            parent_ids: f[1].split_whitespace().map(str::to_string).collect(),
            author_name: f[2].to_string(),
            author_email: f[3].to_string(),
            authored_date: f[4].to_string(),
            committer_name: f[5].to_string(),
            committer_email: f[6].to_string(),
            committed_date: f[7].to_string(),
            message: f[8].trim_end_matches('\n').to_string(),
        })
    }

    /// Every file (blob or symlink) of a commit's tree.
    pub fn tree_entries(&self, rev: &str) -> Result<BTreeMap<String, Entry>, String> {
        let out = self.run(&["ls-tree", "-r", "-z", "--full-tree", rev])?;
        let mut map = BTreeMap::new();
        for rec in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
            let rec = String::from_utf8_lossy(rec);
            let Some((meta, path)) = rec.split_once('\t') else {
                continue;
            };
            let mut m = meta.split(' ');
            let mode = m.next().unwrap_or("").to_string();
            let kind = m.next().unwrap_or("");
            let oid = m.next().unwrap_or("").to_string();
            if kind == "blob" {
                map.insert(path.to_string(), (mode, oid));
            }
        }
        Ok(map)
    }

    /// The last commit reachable from `rev` that touched `path`.
    pub fn last_commit_for_path(&self, rev: &str, path: &str) -> Option<String> {
        self.run_str(&["log", "-1", "--format=%H", rev, "--", path])
            .ok()
            .filter(|s| !s.is_empty())
    }

    pub fn show_file(&self, rev: &str, path: &str) -> Option<Vec<u8>> {
        self.run(&["cat-file", "blob", &format!("{rev}:{path}")])
            .ok()
    }

    /// Writes every content as a blob with one `git hash-object --stdin-paths`.
    pub fn hash_objects(&self, contents: &[&[u8]]) -> Result<Vec<String>, String> {
        if contents.is_empty() {
            return Ok(Vec::new());
        }
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let dir = self.home.join(format!("blobs-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let result = (|| {
            let mut list = Vec::new();
            for (i, content) in contents.iter().enumerate() {
                let path = dir.join(i.to_string());
                std::fs::write(&path, content).map_err(|e| e.to_string())?;
                list.extend_from_slice(path.to_string_lossy().as_bytes());
                list.push(b'\n');
            }
            let out = self.run_with(
                &["hash-object", "-w", "--no-filters", "--stdin-paths"],
                Some(&list),
                &[],
            )?;
            Ok(String::from_utf8_lossy(&out)
                .lines()
                .map(str::to_string)
                .collect())
        })();
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    pub fn hash_object(&self, content: &[u8]) -> Result<String, String> {
        self.run_with(&["hash-object", "-w", "--stdin"], Some(content), &[])
            .map(|o| String::from_utf8_lossy(&o).trim().to_string())
    }

    /// Builds a tree from `base` (or empty) plus `changes` in a private temp
    /// index: `read-tree`, `hash-object -w`, `update-index`, `write-tree`.
    pub fn write_tree(&self, base: Option<&str>, changes: &[Change]) -> Result<String, String> {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let index = self.home.join(format!("index-{}-{n}", std::process::id()));
        let index_s = index.to_string_lossy().into_owned();
        let env = [("GIT_INDEX_FILE", index_s.as_str())];
        let result = (|| {
            match base {
                Some(b) => self.run_with(&["read-tree", b], None, &env)?,
                None => self.run_with(&["read-tree", "--empty"], None, &env)?,
            };
            // One `hash-object` for all new contents (a process per file costs ~5 ms each).
            let contents: Vec<&[u8]> = changes
                .iter()
                .filter_map(|c| match c {
                    Change::Write { content, .. } => Some(&content[..]),
                    _ => None,
                })
                .collect();
            let mut oids = self.hash_objects(&contents)?.into_iter();
            let mut info = Vec::new();
            for change in changes {
                match change {
                    Change::Write { path, mode, .. } => {
                        let oid = oids.next().ok_or("hash-object returned too few ids")?;
                        info.extend_from_slice(format!("{mode} {oid}\t{path}").as_bytes());
                    }
                    Change::Blob { path, mode, oid } => {
                        info.extend_from_slice(format!("{mode} {oid}\t{path}").as_bytes());
                    }
                    Change::Remove(path) => {
                        info.extend_from_slice(format!("0 {ZERO_OID}\t{path}").as_bytes());
                    }
                }
                info.push(0);
            }
            if !info.is_empty() {
                self.run_with(&["update-index", "-z", "--index-info"], Some(&info), &env)?;
            }
            let tree = self.run_with(&["write-tree"], None, &env)?;
            Ok(String::from_utf8_lossy(&tree).trim().to_string())
        })();
        let _ = std::fs::remove_file(&index);
        result
    }

    pub fn commit_tree(
        &self,
        tree: &str,
        parent: Option<&str>,
        message: &str,
        author: Option<(&str, &str)>,
    ) -> Result<String, String> {
        let mut args = vec!["commit-tree", tree];
        if let Some(p) = parent {
            args.push("-p");
            args.push(p);
        }
        let (name, email) = author.unwrap_or((SERVER_NAME, SERVER_EMAIL));
        let env = [("GIT_AUTHOR_NAME", name), ("GIT_AUTHOR_EMAIL", email)];
        let mut msg = message.as_bytes().to_vec();
        if !msg.ends_with(b"\n") {
            msg.push(b'\n');
        }
        self.run_with(&args, Some(&msg), &env)
            .map(|o| String::from_utf8_lossy(&o).trim().to_string())
    }

    /// A commit with any number of parents (a merge commit has two).
    pub fn commit_tree_parents(
        &self,
        tree: &str,
        parents: &[&str],
        message: &str,
        author: Option<(&str, &str)>,
    ) -> Result<String, String> {
        let mut args = vec!["commit-tree", tree];
        for p in parents {
            args.push("-p");
            args.push(p);
        }
        let (name, email) = author.unwrap_or((SERVER_NAME, SERVER_EMAIL));
        let env = [("GIT_AUTHOR_NAME", name), ("GIT_AUTHOR_EMAIL", email)];
        let mut msg = message.as_bytes().to_vec();
        if !msg.ends_with(b"\n") {
            msg.push(b'\n');
        }
        self.run_with(&args, Some(&msg), &env)
            .map(|o| String::from_utf8_lossy(&o).trim().to_string())
    }

    /// `git merge-tree --write-tree`: `Ok(Some(tree))` when `ours` and
    /// `theirs` merge cleanly, `Ok(None)` on a conflict.
    pub fn merge_tree(&self, ours: &str, theirs: &str) -> Result<Option<String>, String> {
        let out = self
            .command(&self.dir)
            .args(["merge-tree", "--write-tree", "--no-messages", ours, theirs])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("spawn git: {e}"))?;
        match out.status.code() {
            Some(0) => Ok(Some(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            )),
            Some(1) => Ok(None),
            _ => Err(format!(
                "git merge-tree: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        }
    }

    /// Whether `a` is an ancestor of (or equal to) `b`.
    pub fn is_ancestor(&self, a: &str, b: &str) -> bool {
        self.run(&["merge-base", "--is-ancestor", a, b]).is_ok()
    }

    /// Deletes `refs/heads/<branch>` if it still points at `old`.
    pub fn delete_ref(&self, branch: &str, old: &str) -> Result<(), String> {
        self.run(&["update-ref", "-d", &format!("refs/heads/{branch}"), old])
            .map(|_| ())
    }

    /// Number of commits in `from..to`.
    pub fn count_commits(&self, from: &str, to: &str) -> u64 {
        self.run_str(&["rev-list", "--count", &format!("{from}..{to}")])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// Files changed between two commits and the stable patch id of the diff.
    pub fn diff_size_and_patch_id(&self, base: &str, head: &str) -> (usize, Option<String>) {
        let files = self
            .run_str(&["diff", "--name-only", base, head])
            .map(|s| s.lines().filter(|l| !l.is_empty()).count())
            .unwrap_or(0);
        let patch_id = self
            .run(&["diff", "--full-index", base, head])
            .ok()
            .filter(|d| !d.is_empty())
            .and_then(|d| self.run_with(&["patch-id", "--stable"], Some(&d), &[]).ok())
            .and_then(|o| {
                String::from_utf8_lossy(&o)
                    .split_whitespace()
                    .next()
                    .map(str::to_string)
            });
        (files, patch_id)
    }

    /// Compare-and-swap of `refs/heads/<branch>`: `old = None` means "must not exist".
    pub fn update_ref(&self, branch: &str, new: &str, old: Option<&str>) -> Result<(), String> {
        let refname = format!("refs/heads/{branch}");
        self.run(&["update-ref", &refname, new, old.unwrap_or(ZERO_OID)])
            .map(|_| ())
    }

    pub fn archive_tar_gz(&self, sha: &str, prefix: &str) -> Result<Vec<u8>, String> {
        // Only a full commit id names fixed content; a branch name moves.
        let cacheable = sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit());
        let key = (sha.to_string(), prefix.to_string());
        if !cacheable {
            return self.run(&[
                "archive",
                "--format=tar.gz",
                &format!("--prefix={prefix}"),
                sha,
            ]);
        }
        if let Some(hit) = self.archive_cache.lock().unwrap().get(&key) {
            return Ok(hit.clone());
        }
        let bytes = self.run(&[
            "archive",
            "--format=tar.gz",
            &format!("--prefix={prefix}"),
            sha,
        ])?;
        self.archive_cache
            .lock()
            .unwrap()
            .insert(key, bytes.clone());
        Ok(bytes)
    }

    pub fn archive_tar(&self, sha: &str, prefix: &str) -> Result<Vec<u8>, String> {
        self.run(&[
            "archive",
            "--format=tar",
            &format!("--prefix={prefix}"),
            sha,
        ])
    }

    pub fn diff_numstat(&self, parent: Option<&str>, sha: &str) -> (u64, u64) {
        let out = match parent {
            Some(p) => self.run_str(&["diff", "--numstat", p, sha]),
            None => self.run_str(&["show", "--numstat", "--format=", sha]),
        }
        .unwrap_or_default();
        let mut add = 0;
        let mut del = 0;
        for l in out.lines() {
            let mut it = l.split('\t');
            add += it.next().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
            del += it.next().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
        }
        (add, del)
    }
}

fn finish(args: &[&str], out: std::process::Output) -> Result<Vec<u8>, String> {
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[cfg(unix)]
fn file_mode(path: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode())
        .unwrap_or(0);
    if mode & 0o111 != 0 {
        "100755".into()
    } else {
        "100644".into()
    }
}

#[cfg(not(unix))]
fn file_mode(_path: &Path) -> String {
    "100644".into()
}
