//! Where logs go: the journal when systemd reads our stderr (structured
//! fields and priorities survive), JSON lines for log shippers, or text for
//! a terminal. `RUST_LOG` filters all three.
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// True when stderr is the journal stream systemd gave us: the variable is
/// inherited by children too, so it only counts if the device and inode
/// match our own stderr.
fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(v) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = v.split_once(':') else {
        return false;
    };
    let Ok(m) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    dev.parse() == Ok(m.dev()) && ino.parse() == Ok(m.ino())
}

/// `format`: "text", "json" or "journal"; None picks the journal when
/// stderr is one, else text.
pub fn init(format: Option<&str>) {
    let spec = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let filter: Targets = spec.parse().unwrap_or_else(|e| {
        eprintln!("RUST_LOG={spec:?} is not a valid filter ({e}); using info");
        Targets::new().with_default(tracing::Level::INFO)
    });
    let format = format.unwrap_or(if stderr_is_journal() {
        "journal"
    } else {
        "text"
    });
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        "journal" => match tracing_journald::layer() {
            Ok(j) => {
                return registry
                    .with(j.with_syslog_identifier("leafvip".into()))
                    .init()
            }
            Err(e) => eprintln!("journal unavailable ({e}); logging text to stderr"),
        },
        "json" => {
            let json = tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_writer(std::io::stderr);
            return registry.with(json).init();
        }
        _ => {}
    }
    let text = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    registry.with(text).init();
}
