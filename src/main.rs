use std::process::ExitCode;

use clap::Parser;
use perfgate::cli::Cli;

fn main() -> ExitCode {
    perfgate::app::execute(Cli::parse().command, None)
}
