use std::process::ExitCode;

fn main() -> ExitCode {
    perfgate::cli_main()
}
