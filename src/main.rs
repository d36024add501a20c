use std::process::ExitCode;

use clap::Parser;

use gitops_bot::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.init_logging();
    match gitops_bot::modes::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
