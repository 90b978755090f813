//! Logging: structured JSON (or pretty on a terminal) through `tracing`.
//!
//! What reaches the log is decided at the source: the access log names route
//! templates, errors carry ids, PHI is inside `Phi<T>`. Two defaults back that up:
//! sqlx's statement logging is held at `warn`, and the panic hook logs where a
//! panic happened but not its formatted message, which could hold a value.

use std::io::IsTerminal as _;

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::settings::{LogFormat, LogSettings};

/// Builds the subscriber for `settings`, writing to `writer`.
///
/// Separate from [`init`] so that tests can capture what the application logs.
pub fn subscriber<W>(settings: &LogSettings, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let mut directives = settings.level.clone();
    if !directives.contains("sqlx") {
        directives.push_str(",sqlx=warn");
    }
    let filter =
        EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let pretty = match settings.format {
        LogFormat::Pretty => true,
        LogFormat::Json => false,
        LogFormat::Auto => std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    if pretty {
        Box::new(builder.compact().finish())
    } else {
        Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        )
    }
}

/// Installs the global subscriber (to standard error) and the panic hook.
pub fn init(settings: &LogSettings) -> anyhow::Result<()> {
    tracing::subscriber::set_global_default(subscriber(settings, std::io::stderr))?;
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(ToString::to_string).unwrap_or_default();
        // A `&'static str` payload is a literal from our code; a formatted `String`
        // payload may embed a value, so it is left out.
        let message = info
            .payload()
            .downcast_ref::<&'static str>()
            .copied()
            .unwrap_or("(formatted message withheld)");
        tracing::error!(location, message, "panic");
    }));
    Ok(())
}
