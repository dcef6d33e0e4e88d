use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use perfgate::cli::{Cli, Command};
use perfgate::commands;
use perfgate::exit::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Demo(args) => commands::demo(args),
        Command::Run(args) => commands::run(args),
        Command::Check(args) => commands::check(args),
        Command::Report(args) => commands::report(args),
        Command::Compare(args) => commands::compare(args),
        Command::History(args) => commands::history(args),
        Command::Init(args) => commands::init(args),
        Command::Import(args) => commands::import(args),
    };
    match outcome {
        Ok(exit) => exit.into(),
        Err(e) => {
            // A closed stderr must not turn exit 2 into a panic.
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            Exit::Error.into()
        }
    }
}
