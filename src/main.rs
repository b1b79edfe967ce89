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
  status    Show the running daemon's peers (and its VIPs, when few)
  status vip PREFIX   One VIP at every peer
  status vips         Every VIP, a page at a time (--json: one object a line)
  drain     Announce every VIP with GRACEFUL_SHUTDOWN (RFC 8326) until undrain
  undrain   End a drain: announce the VIPs as configured
  restart   Make the daemon exit for a restart, its routes kept by the peers
            (Graceful Restart); under systemd the unit starts it again
  systemd-stop UNIT   The unit's ExecStop: `restart` when systemd restarts UNIT
  version   Print the version

Options:
  -c, --config FILE        Configuration file [default: /etc/leafvip/leafvip.toml]
  -s, --socket PATH        Control socket [default: the config's, else /run/leafvip/leafvip.sock]
      --json               status: print JSON
      --page N             status vips: VIPs per request [default: 1000]
      --log-format FORMAT  run: text or json [default: the journal under systemd, else text]
  -h, --help               Print this help
  -V, --version            Print the version
";

enum Command {
    Run(PathBuf),
    Check(PathBuf),
    /// The words after `status`.
    Status(Vec<String>),
    /// `drain`, `undrain` or `restart`: one request to the daemon.
    Control(&'static str),
    /// The unit's name.
    SystemdStop(String),
    Version,
    Help,
}

struct Args {
    command: Command,
    socket: Option<PathBuf>,
    json: bool,
    page: usize,
    log_format: Option<String>,
}

/// lexopt rather than clap: the same parsing for a few hundred KiB less
/// binary, which matters on small routers.
fn parse_args() -> Result<Args, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut command = None;
    let mut words = Vec::new();
    let mut config = None;
    let mut a = Args {
        command: Command::Help,
        socket: None,
        json: false,
        page: leafvip::runtime::board::PAGE_MAX,
        log_format: None,
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Short('c') | Long("config") => config = Some(PathBuf::from(parser.value()?)),
            Short('s') | Long("socket") => a.socket = Some(parser.value()?.into()),
            Long("json") => a.json = true,
            Long("page") => a.page = parser.value()?.parse()?,
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
            Value(v)
                if (command.as_deref() == Some("status") && words.len() < 2)
                    || (command.as_deref() == Some("systemd-stop") && words.is_empty()) =>
            {
                words.push(v.string()?)
            }
            _ => return Err(arg.unexpected()),
        }
    }
    let explicit = config.is_some();
    let config = config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    // Unless -s says, the socket of the config `run` would read: the one
    // named, or the default one when it exists.
    let talks = matches!(
        command.as_deref(),
        Some("status" | "drain" | "undrain" | "restart" | "systemd-stop")
    );
    if talks && a.socket.is_none() && (explicit || config.exists()) {
        a.socket = status_socket(&config);
    }
    a.command = match command.as_deref() {
        Some("run") => Command::Run(config),
        Some("check") => Command::Check(config),
        Some("drain") => Command::Control("drain"),
        Some("undrain") => Command::Control("undrain"),
        Some("restart") => Command::Control("restart"),
        Some("systemd-stop") => match words.pop() {
            Some(unit) => Command::SystemdStop(unit),
            None => return Err("systemd-stop takes the unit's name (%n)".into()),
        },
        Some("status") => {
            match words.first().map(String::as_str) {
                None | Some("vips") if words.len() <= 1 => {}
                Some("vip") if words.len() == 2 => {}
                _ => {
                    return Err(format!(
                        "status takes nothing, `vip PREFIX` or `vips`, not {words:?}"
                    )
                    .into())
                }
            }
            Command::Status(words)
        }
        Some("version") => Command::Version,
        Some(other) => return Err(format!("unknown command {other:?}").into()),
        None => Command::Help,
    };
    Ok(a)
}

/// The control socket a config names. A config that no longer parses must
/// not keep an operator from asking the running daemon: its `[control]
/// socket` is read on its own if the TOML still parses, else the default
/// is used, with a note.
fn status_socket(config: &std::path::Path) -> Option<PathBuf> {
    match leafvip::config::Config::load(config) {
        Ok(c) => c.control.socket,
        Err(e) => {
            eprintln!("leafvip status: note: {e}");
            let text = std::fs::read_to_string(config).ok()?;
            let doc = leafvip::toml_read::document(&text).ok()?;
            let control = doc.get_ref().get("control")?;
            let socket = match control.get_ref() {
                toml::de::DeValue::Table(t) => t.get("socket")?,
                _ => return None,
            };
            leafvip::toml_read::string(socket).ok().map(PathBuf::from)
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) ends quietly, never a panic.
fn out(text: &str) -> bool {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes())
        .and_then(|()| o.flush())
        .is_ok()
}

/// Runs `status`, `status vip P` or `status vips`; pages are followed
/// until the last, each printed as it comes.
fn status(
    socket: &std::path::Path,
    words: &[String],
    json: bool,
    page: usize,
) -> Result<(), runtime::control::QueryError> {
    let tail = if json { " json" } else { "" };
    let query = |r: String| runtime::control::query(socket, &r);
    match words {
        [] => out(&query(format!("status{tail}"))?),
        [_, p] => out(&query(format!("vip {p}{tail}"))?),
        _ => {
            let mut after = "-".to_string();
            loop {
                let page = query(format!("vips {after} {page}{tail}"))?;
                let (body, next) = match page.rfind(leafvip::status::NEXT_PAGE) {
                    Some(i) => (
                        &page[..i],
                        Some(page[i + leafvip::status::NEXT_PAGE.len()..].trim()),
                    ),
                    None => (page.as_str(), None),
                };
                if !out(body) {
                    return Ok(());
                }
                match next {
                    Some(n) => after = n.to_string(),
                    None => return Ok(()),
                }
            }
        }
    };
    Ok(())
}

/// The unit's ExecStop (run as root, `+`): when systemd is restarting the
/// unit, the daemon exits for a restart and this waits for it, so that
/// the SIGTERM systemd sends next finds nothing to stop. Otherwise it does
/// nothing: the SIGTERM is a stop, and the daemon drains first.
fn systemd_stop(unit: &str, socket: Option<PathBuf>) -> ExitCode {
    use runtime::drain;
    if !drain::systemd_restarting(unit) {
        return ExitCode::SUCCESS;
    }
    let socket = socket.unwrap_or_else(|| runtime::control::DEFAULT_SOCKET.into());
    if let Err(e) = runtime::control::query(&socket, "restart") {
        eprintln!("leafvip systemd-stop: {unit} is restarting, but: {}", e);
        return ExitCode::SUCCESS;
    }
    let pid = std::env::var("MAINPID").ok().and_then(|p| p.parse().ok());
    if let Some(pid) = pid {
        if !drain::wait_gone(pid, std::time::Duration::from_secs(10)) {
            eprintln!("leafvip systemd-stop: {pid} still runs after 10 s");
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let Args {
        command,
        socket,
        json,
        page,
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
            out(USAGE);
            ExitCode::SUCCESS
        }
        Command::Version => {
            out(&format!("leafvip {}\n", env!("CARGO_PKG_VERSION")));
            ExitCode::SUCCESS
        }
        Command::Check(config) => match runtime::load(&config) {
            Ok(runtime::Loaded { cfg, labels, vips }) => {
                let node = cfg.node_name();
                // Checks have not run here: report as the daemon starts, unverified
                // hosts left out.
                let plan = Plan::new(&cfg, node, labels, vips, &|_| false);
                out(&plan
                    .report(|p| addrs::predict(p.address, p.local_address))
                    .to_string());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("leafvip: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Control(verb) => {
            let socket = socket.unwrap_or_else(|| runtime::control::DEFAULT_SOCKET.into());
            match runtime::control::query(&socket, verb) {
                Ok(told) => {
                    out(&told);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("leafvip {verb}: {}", e);
                    ExitCode::FAILURE
                }
            }
        }
        Command::SystemdStop(unit) => systemd_stop(&unit, socket),
        Command::Status(words) => {
            let socket = socket.unwrap_or_else(|| runtime::control::DEFAULT_SOCKET.into());
            if socket.as_os_str().is_empty() {
                eprintln!(
                    "leafvip status: the control socket is turned off ([control] socket = \"\")"
                );
                return ExitCode::FAILURE;
            }
            match status(&socket, &words, json, page) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("leafvip status: {}", e);
                    ExitCode::FAILURE
                }
            }
        }
        Command::Run(config) => {
            leafvip::logging::init(log_format.as_deref());
            match runtime::run(&config, socket) {
                Ok(runtime::Exit::Stopped) => ExitCode::SUCCESS,
                Ok(runtime::Exit::Restart) => ExitCode::from(runtime::drain::RESTART_EXIT),
                Err(e) => {
                    tracing::error!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
