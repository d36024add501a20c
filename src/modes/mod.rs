//! Modes: the small orchestrations behind each subcommand. They join the pure pieces with
//! the adapters; no YAML or HTTP details live here.

mod bump_local;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Bump(args) => bump_local::run(&args),
    }
}
