//! The `leafvip` command: run the daemon, check a config, print the version.
use leafvip::plan::Plan;
use leafvip::runtime::{self, addrs};
use std::path::PathBuf;
use std::process::ExitCode;

const DEFAULT_CONFIG: &str = "/etc/leafvip/leafvip.toml";

const USAGE: &str = "\
Announce service VIPs over BGP with this host as next hop.

Usage: leafvip <COMMAND> [OPTIONS]

Commands:
  run       Run the daemon (SIGHUP reloads, SIGTERM stops)
  check     Validate the config and labels, then print this node's plan
  status    Show the running daemon's peers and VIPs
  version   Print the version

Options:
  -c, --config FILE        Configuration file [default: /etc/leafvip/leafvip.toml]
  -s, --socket PATH        Control socket [default: the config's, else /run/leafvip/leafvip.sock]
      --json               status: print JSON
      --log-format FORMAT  run: text or json [default: the journal under systemd, else text]
  -h, --help               Print this help
  -V, --version            Print the version
";

enum Command {
    Run(PathBuf),
    Check(PathBuf),
    Status,
    Version,
    Help,
}

struct Args {
    command: Command,
    socket: Option<PathBuf>,
    json: bool,
    log_format: Option<String>,
}

/// lexopt rather than clap: the same parsing for a few hundred KiB less
/// binary, which matters on small routers.
fn parse_args() -> Result<Args, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut command = None;
    let mut config = None;
    let mut a = Args {
        command: Command::Help,
        socket: None,
        json: false,
        log_format: None,
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Short('c') | Long("config") => config = Some(PathBuf::from(parser.value()?)),
            Short('s') | Long("socket") => a.socket = Some(parser.value()?.into()),
            Long("json") => a.json = true,
            Long("log-format") => match parser.value()?.string()?.as_str() {
                f @ ("text" | "json" | "journal") => a.log_format = Some(f.into()),
                other => return Err(format!("unknown log format {other:?}").into()),
            },
            Short('h') | Long("help") => return Ok(a),
            Short('V') | Long("version") => {
                a.command = Command::Version;
                return Ok(a);
            }
            Value(v) if command.is_none() => command = Some(v.string()?),
            _ => return Err(arg.unexpected()),
        }
    }
    let explicit = config.is_some();
    let config = config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    a.command = match command.as_deref() {
        Some("run") => Command::Run(config),
        Some("check") => Command::Check(config),
        Some("status") => {
            // Unless -s says, the socket of the config `run` would read:
            // the one named, or the default one when it exists.
            if a.socket.is_none() && (explicit || config.exists()) {
                a.socket = leafvip::config::Config::load(&config)
                    .map_err(|e| e.to_string())?
                    .control
                    .socket;
            }
            Command::Status
        }
        Some("version") => Command::Version,
        Some(other) => return Err(format!("unknown command {other:?}").into()),
        None => Command::Help,
    };
    Ok(a)
}

fn main() -> ExitCode {
    let Args {
        command,
        socket,
        json,
        log_format,
    } = match parse_args() {
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
        Command::Status => {
            let socket = socket.unwrap_or_else(|| runtime::control::DEFAULT_SOCKET.into());
            if socket.as_os_str().is_empty() {
                eprintln!(
                    "leafvip status: the control socket is turned off ([control] socket = \"\")"
                );
                return ExitCode::FAILURE;
            }
            let request = if json { "status json" } else { "status" };
            match runtime::control::query(&socket, request) {
                Ok(text) if text.is_empty() || text.starts_with("error:") => {
                    eprintln!(
                        "leafvip status: {}",
                        if text.is_empty() {
                            "no answer from the daemon"
                        } else {
                            text.trim_end()
                        }
                    );
                    ExitCode::FAILURE
                }
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("leafvip status: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Run(config) => {
            leafvip::logging::init(log_format.as_deref());
            match runtime::run(&config, socket) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
