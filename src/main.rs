//! The `leafvip` command: run the daemon, check a config, print the version.
use leafvip::plan::Plan;
use leafvip::runtime::{self, addrs};
use std::path::PathBuf;
use std::process::ExitCode;

const DEFAULT_CONFIG: &str = "/etc/leafvip/leafvip.toml";

const USAGE: &str = "\
Announce service VIPs over BGP with this host as next hop.

Usage: leafvip <COMMAND> [-c FILE]

Commands:
  run       Run the daemon (SIGHUP reloads, SIGTERM stops)
  check     Validate the config and labels, then print this node's plan
  version   Print the version

Options:
  -c, --config FILE   Configuration file [default: /etc/leafvip/leafvip.toml]
  -h, --help          Print this help
  -V, --version       Print the version
";

enum Command {
    Run(PathBuf),
    Check(PathBuf),
    Version,
    Help,
}

/// lexopt rather than clap: the same parsing for a few hundred KiB less
/// binary, which matters on small routers.
fn parse_args() -> Result<Command, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut command = None;
    let mut config = PathBuf::from(DEFAULT_CONFIG);
    while let Some(arg) = parser.next()? {
        match arg {
            Short('c') | Long("config") => config = parser.value()?.into(),
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            Value(v) if command.is_none() => command = Some(v.string()?),
            _ => return Err(arg.unexpected()),
        }
    }
    match command.as_deref() {
        Some("run") => Ok(Command::Run(config)),
        Some("check") => Ok(Command::Check(config)),
        Some("version") => Ok(Command::Version),
        Some(other) => Err(format!("unknown command {other:?}").into()),
        None => Ok(Command::Help),
    }
}

fn init_logging() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let spec = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let filter: Targets = spec.parse().unwrap_or_else(|e| {
        eprintln!("RUST_LOG={spec:?} is not a valid filter ({e}); using info");
        Targets::new().with_default(tracing::Level::INFO)
    });
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    tracing_subscriber::registry().with(filter).with(fmt).init();
}

fn main() -> ExitCode {
    let command = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("leafvip: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("leafvip {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Check(config) => match runtime::load(&config) {
            Ok(runtime::Loaded { cfg, labels, vips }) => {
                let node = cfg.node.name.clone().unwrap_or_else(addrs::hostname);
                // Checks have not run here: report as the daemon starts, unverified
                // hosts left out.
                let plan = Plan::new(&cfg, node, labels, vips, &|_| false);
                print!(
                    "{}",
                    plan.report(|p| addrs::predict(p.address, p.local_address))
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("leafvip: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Run(config) => {
            init_logging();
            match runtime::run(&config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
