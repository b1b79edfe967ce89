//! The `leafvip` command: run the daemon, check a config, print the version.
use clap::{Parser, Subcommand};
use leafvip::plan::Plan;
use leafvip::runtime::{self, addrs};
use std::path::PathBuf;
use std::process::ExitCode;

const DEFAULT_CONFIG: &str = "/etc/leafvip/leafvip.toml";

#[derive(Parser)]
#[command(
    name = "leafvip",
    version,
    about = "Announce service VIPs over BGP with this host as next hop"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon.
    Run {
        #[arg(short, long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Validate the config and labels, then print this node's plan.
    Check {
        #[arg(short, long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Print the version.
    Version,
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
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("leafvip {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Check { config } => match runtime::load(&config) {
            Ok(runtime::Loaded { cfg, labels, vips }) => {
                let node = cfg.node.name.clone().unwrap_or_else(addrs::hostname);
                let plan = Plan::new(&cfg, node, labels, vips);
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
        Command::Run { config } => {
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
