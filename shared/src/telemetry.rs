//! Logging: JSON lines in Lambda (CloudWatch adds the timestamp), compact text on a laptop.
//! `RUST_LOG` sets the filter; the default is `info`.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // `try_init` so a second call (tests, the local server embedding functions) is harmless.
    let _ = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .try_init()
    } else {
        builder.compact().with_target(false).try_init()
    };
}
