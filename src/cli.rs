//! The command line: every flag, its help text and its defaults. No behaviour beyond parsing.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::image_ref::ImageRef;

#[derive(Debug, Parser)]
#[command(
    name = "gitops-bot",
    version,
    about = "GitOps deploys from GitLab CI: bump image tags in a config repo, byte for byte.",
    long_about = None,
)]
pub struct Cli {
    /// More log output on stderr (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Change the tag/digest of every reference to an image in a config repository.
    ///
    /// Finds the image in container specs (`image:` of containers, initContainers and
    /// ephemeralContainers at any depth), any other `image: name:tag` field, Helm-style
    /// `{registry, repository, tag, digest}` mappings, kustomize `images:` entries, Argo CD
    /// Application `kustomize.images`, and (with --setter) Flux `$imagepolicy` markers.
    /// Only the bytes of each reference change: comments, quoting, indentation, CRLF, a BOM
    /// and a missing final newline are kept.
    ///
    /// Exit status: 0 when the references are updated or already current, 1 when the image is
    /// referenced nowhere or a file cannot be written, 2 on usage errors.
    Bump(BumpArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct BumpArgs {
    /// The new image: `REF:TAG`, `REF@DIGEST` or `REF:TAG@DIGEST`
    /// (e.g. registry.example.com/group/helloworld:ci-35).
    #[arg(long, value_name = "REF:TAG[@DIGEST]", value_parser = parse_image)]
    pub image: ImageRef,

    /// Edit the checkout in DIR (no server needed).
    #[arg(long, value_name = "DIR", required = true)]
    pub local: PathBuf,

    /// Only search under this subdirectory of DIR (repeatable).
    #[arg(long = "path", value_name = "SUBDIR")]
    pub paths: Vec<PathBuf>,

    /// Only change fields marked `# {"$imagepolicy": "NS:POLICY[:tag|:name|:digest]"}`
    /// for this Flux image policy, and nothing else.
    #[arg(long, value_name = "NS:POLICY", value_parser = parse_setter)]
    pub setter: Option<String>,

    /// Show what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Treat warnings (unparsable or skipped files, references that cannot be edited) as
    /// errors: print them and write nothing.
    #[arg(long)]
    pub strict: bool,

    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

fn parse_image(s: &str) -> Result<ImageRef, String> {
    let image = ImageRef::parse(s).map_err(|e| e.to_string())?;
    if !image.has_version() {
        return Err(format!(
            "{s:?} has no tag or digest: give the version to deploy, e.g. {s}:1.2.3"
        ));
    }
    Ok(image)
}

fn parse_setter(s: &str) -> Result<String, String> {
    let ok = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    };
    match s.split_once(':') {
        Some((ns, name)) if ok(ns) && ok(name) => Ok(s.to_string()),
        _ => Err(format!(
            "{s:?} is not NAMESPACE:POLICY (lowercase Kubernetes names), e.g. flux-system:podinfo"
        )),
    }
}

impl Cli {
    /// Logs go to stderr; stdout is kept for results.
    pub fn init_logging(&self) {
        let default = match self.verbose {
            0 => "warn",
            1 => "gitops_bot=debug",
            _ => "gitops_bot=trace",
        };
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false)
            .init();
    }
}
