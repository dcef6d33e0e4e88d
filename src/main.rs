use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use perfgate::app;
use perfgate::cli::{Cli, Command};
use perfgate::config::Env;
use perfgate::exit::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The environment is read here, once; settings resolve it with the flags.
    let env = Env::read();
    let outcome = match cli.command {
        Command::Demo(args) => app::demo(args, &env),
        Command::Run(args) => app::run(args, &env),
        Command::Check(args) => app::check(args, &env),
        Command::Report(args) => app::report(args, &env),
        Command::Compare(args) => app::compare(args, &env),
        Command::History(args) => app::history(args, &env),
        Command::Init(args) => app::init(args),
        Command::Import(args) => app::import(args, &env),
        Command::Capacity(args) => app::capacity(args, &env),
    };
    match outcome {
        Ok(exit) => exit.into(),
        Err(e) => {
            // A closed stderr must not turn exit 2 into a panic.
            let message = perfgate::report::format::cut_long_quotes(&format!("{e:#}"));
            let _ = writeln!(std::io::stderr(), "error: {message}");
            Exit::Error.into()
        }
    }
}
