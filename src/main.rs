use std::process::ExitCode;

use clap::Parser;
use perfgate::cli::{self, Cli};

fn main() -> ExitCode {
    cli::execute(Cli::parse())
}
