//! An opt-in log where the library really runs. Inside LSASS, LogonUI or a signing application
//! nothing installs a `tracing` subscriber for this library's own copy of `tracing`, so without
//! this sink its spans and APDU events go nowhere. Off unless configured:
//!
//! - `MINIDRIVER_LOG_FILE` names the file (appended to), `MINIDRIVER_LOG_LEVEL` the level
//!   (`error`, `warn`, `info` (the default), `debug` for every entry point and APDU, `trace`);
//! - on Windows, where a service's environment is hard to set, the same two settings may come
//!   from the registry: `HKEY_LOCAL_MACHINE\SOFTWARE\Minidriver`, string values `LogFile` and
//!   `LogLevel`. The environment wins.
//!
//! Nothing secret reaches the log: PINs, keys, challenges and responses are redacted where the
//! APDU is traced (`Command::redacted_hex`; responses to commands marked as secret show only
//! their length), plaintexts and shared secrets are never logged, and error texts carry no data.

mod ffi;

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::sync::{Mutex, Once};

use tracing::level_filters::LevelFilter;

/// The environment variable naming the log file.
pub const LOG_FILE_ENV: &str = "MINIDRIVER_LOG_FILE";
/// The environment variable naming the level.
pub const LOG_LEVEL_ENV: &str = "MINIDRIVER_LOG_LEVEL";

static INSTALL: Once = Once::new();

fn level(text: Option<&str>) -> LevelFilter {
    match text.map(|t| t.trim().to_ascii_lowercase()).as_deref() {
        Some("error") => LevelFilter::ERROR,
        Some("warn" | "warning") => LevelFilter::WARN,
        Some("debug") => LevelFilter::DEBUG,
        Some("trace") => LevelFilter::TRACE,
        Some("off") => LevelFilter::OFF,
        _ => LevelFilter::INFO,
    }
}

fn setting(env: &str, registry_value: &str) -> Option<String> {
    std::env::var(env).ok().filter(|v| !v.is_empty()).or_else(|| ffi::registry_value(registry_value))
}

/// Where and how much to log, if at all.
fn settings() -> Option<(PathBuf, LevelFilter)> {
    let file = setting(LOG_FILE_ENV, "LogFile")?;
    Some((PathBuf::from(file), level(setting(LOG_LEVEL_ENV, "LogLevel").as_deref())))
}

/// Installs the sink once per process, if configured. A process that already has a global
/// subscriber (a Rust application, mdtool with `--trace`) keeps its own.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        let Some((path, level)) = settings() else { return };
        let Ok(file) = OpenOptions::new().create(true).append(true).open(&path) else { return };
        let subscriber = tracing_subscriber::fmt()
            .with_writer(Mutex::new(file))
            .with_ansi(false)
            .with_max_level(level)
            .with_thread_ids(true)
            .finish();
        if tracing::subscriber::set_global_default(subscriber).is_ok() {
            tracing::info!(version = env!("CARGO_PKG_VERSION"), pid = std::process::id(), "minidriver log opened");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(level(None), LevelFilter::INFO);
        assert_eq!(level(Some(" Debug ")), LevelFilter::DEBUG);
        assert_eq!(level(Some("warning")), LevelFilter::WARN);
        assert_eq!(level(Some("nonsense")), LevelFilter::INFO);
        assert_eq!(level(Some("off")), LevelFilter::OFF);
    }
}
