//! The benchmark's GET user written in Rust (bench/compare.sh runs it beside the
//! config's GET user on the same target, TOOLS=code): one GET of `/` a task. It replaces
//! the config's class named `bench`. Think time, for the memory measure of many users:
//! BENCH_WAIT_MS=1000-2000 (none by default).
//!
//! ```text
//! cargo run --release --example bench_get -- -c bench.toml --users 10 --duration 10s
//! ```

use perfgate::prelude::*;

async fn get(u: &mut User) -> Outcome {
    u.get("/").send().await?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    let wait = std::env::var("BENCH_WAIT_MS").unwrap_or_default();
    let (lo, hi) = wait.split_once('-').unwrap_or(("0", "0"));
    let ms = |v: &str| v.trim().parse::<u64>().unwrap_or(0).ms();
    Test::new()
        .user("bench", 1, |c| c.task(1, get).wait(between(ms(lo), ms(hi))))
        .main()
}
