//! `perfgate demo`: the embedded Proof Messenger service, alone (`--serve`) or with the
//! bundled scenario run and gated against it.

use anyhow::Context as _;

use super::pipeline::{self, Measure, Mode};
use crate::cli::DemoArgs;
use crate::config::{Config, Env, Origin, Setting, Settings};
use crate::demo::{DemoServer, Knobs};
use crate::engine::Code;
use crate::exit::Exit;

pub fn demo(args: DemoArgs, env: &Env, code: Option<&Code>) -> anyhow::Result<Exit> {
    let mut knobs = if args.degrade {
        Knobs::degraded()
    } else {
        Knobs::default()
    };
    let flags = [
        ("latency", &args.latency),
        ("jitter", &args.jitter),
        ("error-rate", &args.error_rate),
    ];
    for (what, specs) in flags {
        for spec in specs {
            knobs.set(what, spec).map_err(anyhow::Error::msg)?;
        }
    }
    if let Some(s) = &args.stall {
        knobs.set_stall(s).map_err(anyhow::Error::msg)?;
    }
    if let Some(c) = &args.capacity {
        knobs.set_capacity(c).map_err(anyhow::Error::msg)?;
    }
    let start = |addr: &str, knobs| match args.tls {
        true => DemoServer::start_tls(addr, knobs),
        false => DemoServer::start(addr, knobs),
    };
    if let Some(addr) = &args.serve {
        let server = start(addr, knobs).with_context(|| format!("cannot listen on {addr}"))?;
        outln!(
            "Proof Messenger demo listening on {} (stats at {}/stats); Ctrl-C stops it",
            server.url(),
            server.url()
        );
        if let Some(pem) = server.certificate() {
            let file =
                std::env::temp_dir().join(format!("perfgate-demo-{}.pem", server.addr.port()));
            std::fs::write(&file, pem)
                .with_context(|| format!("cannot write {}", file.display()))?;
            outln!(
                "its certificate: {} ([target] ca_file = that file)",
                file.display()
            );
        }
        server.wait();
        return Ok(Exit::Passed);
    }
    let mut settings =
        Settings::resolve(&args.load, &args.output, env).map_err(anyhow::Error::msg)?;
    let server = start("127.0.0.1:0", knobs).context("cannot start the demo service")?;
    settings.host = Some(Setting {
        value: server.url(),
        from: Origin::Flag("demo"),
    });
    settings
        .trust
        .extend(server.certificate().map(str::to_string));
    let loaded = Config::parse("perfgate.toml (bundled)", crate::EXAMPLE_CONFIG)
        .expect("the bundled config parses");
    outln!(
        "Proof Messenger demo service on {}{}",
        server.url(),
        if args.degrade {
            " (degraded: slow and flaky on purpose)"
        } else {
            ""
        }
    );
    let measure = Measure::Run { demo: true, code };
    let judged = pipeline::execute(&settings, Some(&loaded), measure, Mode::GATE)?;
    let served: u64 = server.served().values().flat_map(|m| m.values()).sum();
    outln!("(the demo service itself counted {served} responses)");
    Ok(judged.exit)
}
