//! What the bump merge request is: its deterministic branch, title, commit message, recorded
//! state and description view, all derived from a [`BumpPlan`]. Pure: no HTTP here.

use serde::Serialize;

use super::BumpPlan;
use super::revert::version_of;
use crate::image_ref::{ImageRef, Version};
use crate::marker::{self, BumpState, PromotionRecord, RecordedChange, RecordedImage};
pub use crate::messages::RollbackOf;
use crate::messages::{ChangeRow, DeployHelp, ImageRow, MergeRequestView, Notices, SourceInfo};
use crate::plural::count;

/// The inputs that, with the plan, define the merge request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The image (the first, when there are several: see [`Request::images`]).
    pub image: ImageRef,
    /// The other images of a bump of several, of other repositories; their changes carry
    /// their index in [`Request::images`].
    pub also: Vec<ImageRef>,
    /// The Flux image policy whose marked fields alone change (`--setter`).
    pub setter: Option<String>,
    pub environment: Option<String>,
    /// `--path`s (or the environment's paths), relative to the repo root.
    pub paths: Vec<String>,
    pub target_branch: String,
    /// The target commit the plan was computed on.
    pub base_sha: String,
    pub source: SourceInfo,
    /// Set when this request rolls a failed or unwanted version back.
    pub rollback: Option<RollbackOf>,
    /// A branch chosen by the caller (a promotion's), instead of the deterministic one.
    pub branch: Option<String>,
    /// A Markdown section the caller adds to the description, after the changes (a
    /// promotion's evidence). Rendered as given: it must quote what it copies.
    pub section: Option<String>,
    /// Set for a promotion: recorded in the description, and it titles the merge request.
    pub promotion: Option<PromotionRecord>,
}

/// Trailer on the bot's commits naming the commit they were built on.
pub const BASE_TRAILER: &str = "Gitops-Bot-Base";

impl Request {
    fn scope(&self) -> String {
        match &self.environment {
            Some(env) => slug(env),
            None if self.paths.is_empty() => "all".to_string(),
            None => slug(&self.paths.join("-")),
        }
    }

    /// Every image, in the order given.
    pub fn images(&self) -> impl Iterator<Item = &ImageRef> {
        std::iter::once(&self.image).chain(&self.also)
    }

    /// One branch per (target branch, environment or paths, image repository): e.g.
    /// `gitops-bot/prod/helloworld-1f2e3d`. The suffix keeps two repositories with the same
    /// last path component (or two target branches) apart. Several images share one branch
    /// per set of repositories, whatever their order: `gitops-bot/prod/images-4a5b6c`. A
    /// rollback has a branch of its own ([`rollback_branch`]), so forward bumps never rewrite
    /// it, and so does a caller that names one (a promotion).
    pub fn branch(&self) -> String {
        if let Some(branch) = &self.branch {
            return branch.clone();
        }
        if self.rollback.is_some() {
            if !self.also.is_empty() {
                return self.set_branch("rollback/images");
            }
            return rollback_branch(
                &self.image,
                &self.target_branch,
                self.environment.as_deref(),
            );
        }
        if !self.also.is_empty() {
            return self.set_branch("images");
        }
        let key = format!(
            "{}\0{}\0{}\0{}",
            self.image.name.canonical(),
            self.target_branch,
            self.environment.as_deref().unwrap_or_default(),
            self.paths.join("\0")
        );
        format!(
            "gitops-bot/{}/{}-{:06x}",
            self.scope(),
            slug(self.image.name.last_component()),
            fnv1a(key.as_bytes()) & 0xff_ffff
        )
    }

    fn set_branch(&self, kind: &str) -> String {
        let mut repositories: Vec<String> = self.images().map(|i| i.name.canonical()).collect();
        repositories.sort();
        let key = format!(
            "{}\0{}\0{}\0{}\0{}",
            kind.replace('/', "-"),
            repositories.join("\0"),
            self.target_branch,
            self.environment.as_deref().unwrap_or_default(),
            self.paths.join("\0")
        );
        format!(
            "gitops-bot/{}/{kind}-{:06x}",
            self.scope(),
            fnv1a(key.as_bytes()) & 0xff_ffff
        )
    }

    /// The version of the (first) image.
    pub fn version(&self) -> Version {
        self.image.version()
    }

    /// What it proposes, comparable with a record's [`BumpState::proposes`].
    pub fn proposes(&self) -> String {
        marker::proposes(&self.recorded(&BumpPlan::default()))
    }

    /// Each image as recorded, with the versions the plan changes it from.
    fn recorded(&self, plan: &BumpPlan) -> Vec<RecordedImage> {
        self.images()
            .enumerate()
            .map(|(index, image)| RecordedImage {
                image: image.name.as_str().to_string(),
                tag: image.tag.clone(),
                digest: image.digest.clone(),
                previous: previous_versions_of(plan, index)
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            })
            .collect()
    }

    /// Where it deploys to, for people: the environment, else the target branch.
    pub fn destination(&self) -> &str {
        self.environment.as_deref().unwrap_or(&self.target_branch)
    }
}

/// The one rollback branch per (image repository, target branch, environment), e.g.
/// `gitops-bot/prod/rollback/helloworld-1f2e3d`.
pub fn rollback_branch(image: &ImageRef, target_branch: &str, environment: Option<&str>) -> String {
    let key = format!(
        "rollback\0{}\0{target_branch}\0{}",
        image.name.canonical(),
        environment.unwrap_or_default()
    );
    format!(
        "gitops-bot/{}/rollback/{}-{:06x}",
        slug(environment.unwrap_or(target_branch)),
        slug(image.name.last_component()),
        fnv1a(key.as_bytes()) & 0xff_ffff
    )
}

/// The one promotion branch of an environment: `gitops-bot/<environment>/promote`. Every
/// promotion to it (whatever the images) is proposed there, so it has one merge request.
pub fn promotion_branch(environment: &str) -> String {
    format!("gitops-bot/{}/promote", slug(environment))
}

/// The start of every rollback branch of `environment` (see [`rollback_branch`]).
pub fn rollback_prefix(environment: &str) -> String {
    format!("gitops-bot/{}/rollback/", slug(environment))
}

/// The machine-readable state recorded in the description.
pub fn state(plan: &BumpPlan, request: &Request) -> BumpState {
    let images = request.recorded(plan);
    BumpState {
        v: 1,
        image: request.image.name.as_str().to_string(),
        tag: request.image.tag.clone(),
        digest: request.image.digest.clone(),
        setter: request.setter.clone(),
        rollback_of: request.rollback.as_ref().map(|r| r.iid),
        previous: images
            .first()
            .map(|i| i.previous.clone())
            .unwrap_or_default(),
        environment: request.environment.clone(),
        paths: request.paths.clone(),
        target_branch: request.target_branch.clone(),
        branch: request.branch(),
        base_sha: request.base_sha.clone(),
        changes: plan
            .changes()
            .map(|(file, c)| RecordedChange {
                file: file.to_string(),
                line: c.line,
                old: c.old.clone(),
                new: c.new.clone(),
            })
            .collect(),
        source: request.source.clone(),
        images: if request.also.is_empty() {
            Vec::new()
        } else {
            images
        },
        promotion: request.promotion.clone(),
    }
}

/// The distinct versions the changed references had, in order of appearance.
pub fn previous_versions(plan: &BumpPlan) -> Vec<Version> {
    distinct(plan.changes())
}

/// The same for the image of index `image`.
fn previous_versions_of(plan: &BumpPlan, image: usize) -> Vec<Version> {
    distinct(plan.changes_of(image))
}

fn distinct<'a>(changes: impl Iterator<Item = (&'a str, &'a super::Change)>) -> Vec<Version> {
    let mut out: Vec<Version> = Vec::new();
    for (_, change) in changes {
        let version = version_of(&change.old);
        if !out.contains(&version) {
            out.push(version);
        }
    }
    out
}

/// `Deploy helloworld ci-35 to prod (was ci-34)`, `Deploy 2 images to prod`, or for a
/// rollback `Roll back helloworld in prod to ci-34 (ci-36 failed)`.
pub fn title(plan: &BumpPlan, request: &Request) -> String {
    if let Some(promotion) = &request.promotion {
        return format!(
            "Promote {} from {} to {}",
            count(1 + request.also.len(), "image"),
            promotion.from,
            request.destination()
        );
    }
    if !request.also.is_empty() && request.rollback.is_none() {
        return format!(
            "Deploy {} to {}",
            count(1 + request.also.len(), "image"),
            request.destination()
        );
    }
    if let Some(rollback) = &request.rollback
        && !request.also.is_empty()
    {
        let why = if rollback.failed {
            format!("!{} failed", rollback.iid)
        } else {
            format!("undoing !{}", rollback.iid)
        };
        return format!(
            "Roll back {} in {} ({why})",
            count(1 + request.also.len(), "image"),
            request.destination(),
        );
    }
    if let Some(rollback) = &request.rollback {
        let from = rollback.version.short();
        return format!(
            "Roll back {} in {} to {} ({})",
            request.image.name.last_component(),
            request.destination(),
            request.version().short(),
            if rollback.failed {
                format!("{from} failed")
            } else {
                format!("from {from}")
            }
        );
    }
    let previous = previous_versions(plan);
    let mut title = format!(
        "Deploy {} {} to {}",
        request.image.name.last_component(),
        request.version().short(),
        request.destination()
    );
    if !previous.is_empty() {
        let was: Vec<String> = previous.iter().map(Version::short).collect();
        title.push_str(&format!(" (was {})", was.join(", ")));
    }
    title
}

pub fn commit_message(plan: &BumpPlan, request: &Request) -> String {
    let mut message = title(plan, request);
    message.push_str("\n\n");
    for (file, change) in plan.changes() {
        message.push_str(&format!(
            "{file}:{}: {} -> {}\n",
            change.line, change.old, change.new
        ));
    }
    if let Some(url) = &request.source.pipeline_url {
        message.push_str(&format!("\nPipeline: {url}\n"));
    }
    message.push_str(&format!("\n{BASE_TRAILER}: {}\n", request.base_sha));
    message
}

/// The view the description template renders: the plan, the request, how to deploy it and
/// what the reader must know about other merge requests.
pub fn view(
    plan: &BumpPlan,
    request: &Request,
    deploy: DeployHelp,
    notices: Notices,
) -> MergeRequestView {
    let state = state(plan, request);
    let mut diff = plan.diff();
    if !diff.is_empty() && !diff.ends_with('\n') {
        diff.push('\n');
    }
    MergeRequestView {
        images: request
            .recorded(plan)
            .into_iter()
            .map(|i| ImageRow {
                version: i.version().to_string(),
                image: i.image,
                previous: i.previous,
            })
            .collect(),
        section: request.section.clone(),
        image: request.image.name.as_str().to_string(),
        version: request.version().to_string(),
        previous: state.previous.clone(),
        destination: request.destination().to_string(),
        environment: request.environment.clone(),
        target_branch: request.target_branch.clone(),
        changes: plan
            .changes()
            .map(|(file, c)| ChangeRow {
                file: file.to_string(),
                line: c.line,
                form: c.form.as_str().to_string(),
                old: c.old.clone(),
                new: c.new.clone(),
            })
            .collect(),
        files: plan.changed_files().count(),
        diff,
        diff_truncated: false,
        source: request.source.clone(),
        rollback: request.rollback.clone(),
        deploy,
        notices,
        marker: marker::render(&state.marker()),
    }
}

/// What `bump` did, for people and for later CI jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Created,
    Updated,
    Reopened,
    /// The open merge request already proposes this version.
    Current,
    /// The target branch already has this version.
    AlreadyDeployed,
    /// A human closed the merge request for this version.
    ClosedNotReopened,
    DryRun,
}

/// Lowercase ASCII letters, digits and `-`, at most 40 characters.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_matches('-').chars().take(40).collect();
    if out.is_empty() {
        "x".to_string()
    } else {
        out.trim_end_matches('-').to_string()
    }
}

/// 64-bit FNV-1a: stable across versions and platforms, which `std`'s hasher is not.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(image: &str, env: Option<&str>, paths: &[&str]) -> Request {
        Request {
            image: ImageRef::parse(image).unwrap(),
            environment: env.map(str::to_string),
            paths: paths.iter().map(|p| p.to_string()).collect(),
            target_branch: "main".into(),
            base_sha: "abc".into(),
            source: SourceInfo::default(),
            setter: None,
            rollback: None,
            also: vec![],
            branch: None,
            section: None,
            promotion: None,
        }
    }

    #[test]
    fn branches_are_deterministic_per_scope_and_repository() {
        let a = request(
            "registry.example.com/root/helloworld:ci-35",
            Some("prod"),
            &[],
        )
        .branch();
        let b = request(
            "registry.example.com/root/helloworld:ci-36",
            Some("prod"),
            &[],
        )
        .branch();
        assert_eq!(a, b);
        assert!(a.starts_with("gitops-bot/prod/helloworld-"), "{a}");
        let other_repo = request(
            "registry.example.com/other/helloworld:ci-35",
            Some("prod"),
            &[],
        )
        .branch();
        assert_ne!(a, other_repo);
        assert!(
            request("x/app:1", None, &[])
                .branch()
                .starts_with("gitops-bot/all/app-")
        );
        assert!(
            request("x/app:1", None, &["envs/Prod EU"])
                .branch()
                .starts_with("gitops-bot/envs-prod-eu/app-")
        );
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    fn several(images: &[&str], env: Option<&str>) -> Request {
        let mut r = request(images[0], env, &[]);
        r.also = images[1..]
            .iter()
            .map(|i| ImageRef::parse(i).unwrap())
            .collect();
        r
    }

    #[test]
    fn several_images_share_one_branch_per_set_of_repositories_and_scope() {
        let a = several(&["r.io/web:1", "r.io/worker:2"], Some("prod")).branch();
        assert!(a.starts_with("gitops-bot/prod/images-"), "{a}");
        // Other versions, another order: the same branch.
        assert_eq!(
            several(&["r.io/worker:3", "r.io/web:1"], Some("prod")).branch(),
            a
        );
        // Another set, another scope, another target branch: another branch.
        assert_ne!(
            several(
                &["r.io/web:1", "r.io/worker:2", "r.io/cron:1"],
                Some("prod")
            )
            .branch(),
            a
        );
        assert_ne!(
            several(&["r.io/web:1", "r.io/worker:2"], Some("staging")).branch(),
            a
        );
        let mut other_target = several(&["r.io/web:1", "r.io/worker:2"], Some("prod"));
        other_target.target_branch = "release".into();
        assert_ne!(other_target.branch(), a);
        // Never the branch of one of its images alone.
        assert_ne!(request("r.io/web:1", Some("prod"), &[]).branch(), a);
        // A caller's branch (a promotion's) wins.
        let mut promotion = several(&["r.io/web:1", "r.io/worker:2"], Some("prod"));
        promotion.branch = Some("gitops-bot/prod/promote".into());
        assert_eq!(promotion.branch(), "gitops-bot/prod/promote");
    }

    #[test]
    fn several_images_are_one_title_and_one_record() {
        let change = |image: usize, old: &str, new: &str| super::super::Change {
            image,
            line: 1,
            column: 1,
            form: crate::forms::Form::Container,
            old: old.into(),
            new: new.into(),
        };
        let mut plan = BumpPlan::default();
        plan.files.push(super::super::FilePlan {
            path: "d.yaml".into(),
            original: String::new(),
            bump: super::super::FileBump {
                changes: vec![
                    change(0, "r.io/web:1", "r.io/web:2"),
                    change(1, "r.io/worker:6", "r.io/worker:7"),
                    change(1, "r.io/worker:5", "r.io/worker:7"),
                ],
                ..Default::default()
            },
        });
        let r = several(&["r.io/web:2", "r.io/worker:7"], Some("prod"));
        assert_eq!(title(&plan, &r), "Deploy 2 images to prod");
        let state = state(&plan, &r);
        let recorded: Vec<(&str, Vec<String>)> = state
            .images
            .iter()
            .map(|i| (i.image.as_str(), i.previous.clone()))
            .collect();
        assert_eq!(
            recorded,
            [
                ("r.io/web", vec!["1".to_string()]),
                ("r.io/worker", vec!["6".to_string(), "5".to_string()])
            ]
        );
        assert_eq!(state.previous, ["1"]);
        assert_eq!(state.proposes(), r.proposes());
        assert_eq!(r.proposes(), "r.io/web 2, r.io/worker 7");
        // One image records as it always has: no `images`.
        let one = request("r.io/web:2", Some("prod"), &[]);
        assert!(super::state(&plan, &one).images.is_empty());
        assert_eq!(one.proposes(), "2");
    }

    #[test]
    fn titles_name_image_version_destination_and_previous() {
        let mut plan = BumpPlan::default();
        plan.files.push(super::super::FilePlan {
            path: "d.yaml".into(),
            original: String::new(),
            bump: super::super::FileBump {
                changes: vec![super::super::Change {
                    image: 0,
                    line: 1,
                    column: 1,
                    form: crate::forms::Form::Container,
                    old: "r.io/helloworld:ci-34".into(),
                    new: "r.io/helloworld:ci-35".into(),
                }],
                ..Default::default()
            },
        });
        let r = request("r.io/helloworld:ci-35", Some("prod"), &[]);
        assert_eq!(
            title(&plan, &r),
            "Deploy helloworld ci-35 to prod (was ci-34)"
        );
        let r = request("r.io/helloworld:ci-35", None, &[]);
        assert_eq!(
            title(&plan, &r),
            "Deploy helloworld ci-35 to main (was ci-34)"
        );
        let msg = commit_message(&plan, &r);
        assert!(msg.ends_with("\nGitops-Bot-Base: abc\n"), "{msg}");
    }
}
