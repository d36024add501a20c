use std::process::ExitCode;

use clap::Parser;

use gitops_bot::cli::{self, Cli, UsageError};

/// Exit status of usage errors (clap's own and [`UsageError`]s found later); failures are 1.
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => match cli::comment_command(&err) {
            Some(verb) => {
                eprintln!("error: {}", cli::comment_command_message(verb));
                return ExitCode::from(USAGE);
            }
            // Help, version and clap's errors, printed and exited as clap does (2 on errors).
            None => err.exit(),
        },
    };
    cli.init_logging();
    match gitops_bot::modes::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.chain().any(|e| e.is::<UsageError>()) {
                ExitCode::from(USAGE)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
