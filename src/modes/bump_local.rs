//! `bump --local DIR`: the edit on a checkout on disk.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::bump::{BumpPlan, Examiner};
use crate::cli::{BumpArgs, OutputFormat, UsageError};
use crate::config::{self, RepoConfig};
use crate::forms::Target;
use crate::output;
use crate::workdir::{walk_yaml, write_all};
use crate::workflows::propose::resolve_scope;

pub fn run(args: &BumpArgs) -> Result<ExitCode> {
    let targets: Vec<Target> = args
        .checked_images()?
        .iter()
        .map(|image| Target {
            image: image.clone(),
            setter: args.setter.clone(),
        })
        .collect();
    let dir = args.local.as_deref().unwrap_or(Path::new("."));
    check_directory(dir)?;
    let config_path = dir.join(config::FILE_NAME);
    let config = match std::fs::read_to_string(&config_path) {
        Ok(text) => RepoConfig::parse(&text, config::FILE_NAME)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            RepoConfig::absent(dir.display().to_string())
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", config_path.display())),
    };
    let scope = resolve_scope(&args.paths, args.environment.as_deref(), &config)?;
    let examiner = Examiner::for_targets(&targets, &scope);
    let starts: Vec<std::path::PathBuf> = scope.iter().map(std::path::PathBuf::from).collect();
    let walk = walk_yaml(dir, &starts, |path, bytes| examiner.examine(path, bytes))?;
    let plan = BumpPlan::gather(walk.files, walk.examined, walk.warnings);

    let images: Vec<String> = args.images.iter().map(ToString::to_string).collect();
    match args.output {
        OutputFormat::Text => output::print_text(&plan, &images, args.dry_run),
        OutputFormat::Json => {
            output::print_json(&plan, &images, args.dry_run, serde_json::json!({}))?
        }
    }
    plan.check(&images, args.strict)?;
    if !args.dry_run {
        write_changes(dir, &plan)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--local` must name a directory: a file or a missing path is a usage error.
fn check_directory(dir: &Path) -> Result<()> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(meta) => Err(UsageError(format!(
            "--local takes the config repository's directory; {} is {}",
            dir.display(),
            if meta.is_file() {
                "a file"
            } else {
                "not a directory"
            }
        ))
        .into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(UsageError(format!("--local {}: no such directory", dir.display())).into())
        }
        Err(e) => Err(e).with_context(|| format!("cannot open --local {}", dir.display())),
    }
}

fn write_changes(dir: &Path, plan: &BumpPlan) -> Result<()> {
    let paths: Vec<_> = plan
        .changed_files()
        .map(|(f, edited)| (dir.join(&f.path), edited))
        .collect();
    let files: Vec<(&Path, &str)> = paths.iter().map(|(p, e)| (p.as_path(), *e)).collect();
    write_all(&files)
}
