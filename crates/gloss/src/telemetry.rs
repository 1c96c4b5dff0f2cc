//! Logging: `tracing` events formatted on stderr, filtered by the `log` setting unless
//! `RUST_LOG` is set. Stdout stays free for command output (URLs, passwords, TOML).

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the subscriber for this process. `filter` is the already validated `log`
/// setting; an invalid `RUST_LOG` falls back to it with a warning.
pub fn init(filter: &str) {
    let mut rust_log_error = None;
    let env_filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => match EnvFilter::try_new(&value) {
            Ok(env_filter) => env_filter,
            Err(err) => {
                rust_log_error = Some(format!("{value:?}: {err}"));
                EnvFilter::new(filter)
            }
        },
        _ => EnvFilter::new(filter),
    };
    // Fails only when a subscriber is already installed, which is then good enough.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    if let Some(error) = rust_log_error {
        tracing::warn!("ignoring RUST_LOG {error}; using the log setting {filter:?}");
    }
}
