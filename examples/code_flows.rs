//! Flows a config cannot say, written in Rust (tests/code.rs runs this against a
//! recording server): a login per user whose token later requests carry, a job polled
//! until it is done timed as one transaction, a number recorded into a histogram a
//! budget bounds, per-user state, a feeder, and a task that panics (caught and counted,
//! the run goes on). The config's tasks can call `ping` by name (`code = "ping"`).
//!
//! ```text
//! cargo run --example code_flows -- -c perfgate.toml --users 3 --duration 5s
//! ```

use perfgate::prelude::*;
use serde::Deserialize;

#[derive(Default)]
struct Session {
    token: String,
    jobs: u32,
}

#[derive(Deserialize)]
struct Job {
    id: u64,
    state: String,
}

async fn login(u: &mut User) -> Outcome {
    let account = u.feed("accounts")?;
    let body = serde_json::json!({ "user": account["name"] });
    let r = u.post("/login").json(&body).send().await?;
    let token: serde_json::Value = r.json()?;
    let token = token["token"].as_str().ok_or_else(|| fail("no token"))?;
    u.set_var("token", token);
    u.state::<Session>().token = token.to_string();
    Ok(())
}

async fn logout(u: &mut User) -> Outcome {
    u.post("/logout").send().await?;
    Ok(())
}

/// The token from on_start goes out with each request; the server echoes it.
async fn echo(u: &mut User) -> Outcome {
    let token = u.state::<Session>().token.clone();
    let r = u
        .get("/echo")
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await?;
    let said: serde_json::Value = r.json()?;
    u.check("token echoed", said["auth"] == format!("Bearer {token}"));
    Ok(())
}

/// Starts a job and polls it until done: the whole is timed as `task:job_done`.
async fn job(u: &mut User) -> Outcome {
    let polls = u
        .transaction("job_done", async |u: &mut User| {
            let job: Job = u.post("/jobs").send().await?.json()?;
            for poll in 1..=10 {
                let r = u
                    .get(format!("/jobs/{}", job.id))
                    .name("/jobs/ID")
                    .send()
                    .await?;
                if r.json::<Job>()?.state == "done" {
                    return Ok(poll);
                }
            }
            Err(fail(format!("job {} never done", job.id)))
        })
        .await?;
    u.record("polls", polls as f64);
    u.state::<Session>().jobs += 1;
    Ok(())
}

async fn boom(u: &mut User) -> Outcome {
    panic!("user {} hit a bug", u.id());
}

/// Called from the config: `code = "ping"`.
async fn ping(u: &mut User) -> Outcome {
    u.get("/ping").send().await?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    Test::new()
        .user("Account", 2, |c| {
            c.on_start(login)
                .on_stop(logout)
                .task(2, echo)
                .task(1, job)
                .task(1, boom)
                .wait(constant(20.ms()))
        })
        .function("ping", ping)
        .main()
}
