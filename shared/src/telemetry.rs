//! Logging. In Lambda the function's logging configuration decides: `AWS_LAMBDA_LOG_FORMAT` (`JSON` or
//! `Text`) and `AWS_LAMBDA_LOG_LEVEL`; `RUST_LOG`, when set, wins over the level (for a debugging session).
//! JSON lines carry the spans they were written in, so every line of a request has the runtime's
//! `requestId` and the store call it happened in (each store call is a span that logs its duration, see
//! [`crate::store::Traced`]). On a laptop: compact text, `RUST_LOG` or `info`.
//!
//! `RUST_LOG` takes `level` and `target=level` directives, comma-separated (a `Targets` filter, not an
//! `EnvFilter`: the latter's span-field matching links a regex engine into every function, about 0.3 MB, for
//! directives nobody sets in Lambda). One that does not parse leaves the level at `info`.

use tracing::Subscriber;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// The runtime opens one `info` span per invocation with the `requestId`: kept at any level, so a warning
/// logged under `AWS_LAMBDA_LOG_LEVEL=WARN` still says which request it belongs to.
const REQUEST_SPAN: &str = "lambda_runtime::layers::trace=info";

/// How to log, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub filter: String,
    pub json: bool,
    pub lambda: bool,
}

impl Settings {
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let level = set("AWS_LAMBDA_LOG_LEVEL").map(|l| match l.to_ascii_lowercase().as_str() {
            // Lambda's FATAL has no tracing counterpart.
            "fatal" => "error".to_owned(),
            other => other.to_owned(),
        });
        let filter = set("RUST_LOG").or(level).unwrap_or_else(|| "info".into());
        let lambda = set("AWS_LAMBDA_FUNCTION_NAME").is_some();
        Self {
            filter: format!("{filter},{REQUEST_SPAN}"),
            json: lambda
                && set("AWS_LAMBDA_LOG_FORMAT").is_none_or(|f| f.eq_ignore_ascii_case("json")),
            lambda,
        }
    }

    /// The subscriber these settings describe, writing to `writer`.
    pub fn subscriber<W>(&self, writer: W) -> Box<dyn Subscriber + Send + Sync>
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let filter = self.targets();
        // The builder's own filter defaults to INFO; the targets decide instead.
        let builder = tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
            .with_writer(writer)
            .with_target(false);
        if self.json {
            // CloudWatch adds the timestamp.
            Box::new(
                builder
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(true)
                    .with_ansi(false)
                    .without_time()
                    .finish()
                    .with(filter),
            )
        } else if self.lambda {
            Box::new(
                builder
                    .with_ansi(false)
                    .without_time()
                    .finish()
                    .with(filter),
            )
        } else {
            Box::new(builder.compact().finish().with(filter))
        }
    }

    fn targets(&self) -> Targets {
        self.filter.parse().unwrap_or_else(|_| {
            format!("info,{REQUEST_SPAN}")
                .parse()
                .expect("the default directives parse")
        })
    }
}

pub fn init() {
    let settings = Settings::from_env(|name| std::env::var(name).ok());
    // A second call (tests, the local server embedding functions) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(settings.subscriber(std::io::stdout));
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::store::Store;

    fn settings(vars: &[(&str, &str)]) -> Settings {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_env(move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn lambda_controls_decide_and_rust_log_wins() {
        let lambda = [("AWS_LAMBDA_FUNCTION_NAME", "f")];
        assert_eq!(settings(&lambda).filter, format!("info,{REQUEST_SPAN}"));
        assert!(settings(&lambda).json);
        let warn = settings(&[lambda[0], ("AWS_LAMBDA_LOG_LEVEL", "WARN")]);
        assert_eq!(warn.filter, format!("warn,{REQUEST_SPAN}"));
        let text = settings(&[lambda[0], ("AWS_LAMBDA_LOG_FORMAT", "Text")]);
        assert!(!text.json && text.lambda);
        let debugging = settings(&[
            lambda[0],
            ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
            ("RUST_LOG", "switchboard=debug"),
        ]);
        assert_eq!(
            debugging.filter,
            format!("switchboard=debug,{REQUEST_SPAN}")
        );
        assert!(!settings(&[]).json);
    }

    #[test]
    fn directives_that_do_not_parse_leave_info() {
        use tracing::Level;
        use tracing_subscriber::filter::LevelFilter;
        let garbled = settings(&[("RUST_LOG", "switchboard=loud")]).targets();
        assert_eq!(garbled.default_level(), Some(LevelFilter::INFO));
        let chosen = settings(&[("RUST_LOG", "warn,switchboard=debug")]).targets();
        assert!(chosen.would_enable("switchboard::store", &Level::DEBUG));
        assert!(!chosen.would_enable("aws_smithy_runtime", &Level::INFO));
        assert!(chosen.would_enable("lambda_runtime::layers::trace", &Level::INFO));
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The JSON lines a request writes at `level`: a store call inside the runtime's invocation span.
    fn request_lines(level: &str) -> Vec<serde_json::Value> {
        let captured = Captured::default();
        let writer = captured.clone();
        let settings = settings(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
            ("AWS_LAMBDA_LOG_LEVEL", level),
        ]);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        tracing::subscriber::with_default(settings.subscriber(move || writer.clone()), || {
            // As lambda_runtime opens it for each invocation.
            let invoke = tracing::info_span!(target: "lambda_runtime::layers::trace", "Lambda runtime invoke", requestId = "req-42");
            let _invoke = invoke.enter();
            let dir = tempfile::tempdir().unwrap();
            let store = crate::store::Traced::new(std::sync::Arc::new(
                crate::store::embedded::EmbeddedStore::open(
                    dir.path(),
                    crate::store::CursorCodec::new(b"k"),
                )
                .unwrap(),
            ));
            let key = crate::store::Key::new("p", "s");
            assert!(runtime.block_on(store.get(&key)).unwrap().is_none());
            tracing::warn!("slow");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn every_line_carries_the_request_id_and_store_calls_their_time() {
        let warn = request_lines("WARN");
        assert_eq!(warn.len(), 1, "{warn:?}");
        assert_eq!(warn[0]["message"], "slow");
        let debug = request_lines("DEBUG");
        assert_eq!(debug.len(), 2, "{debug:?}");
        for line in warn.iter().chain(&debug) {
            assert_eq!(line["spans"][0]["requestId"], "req-42", "{line}");
        }
        assert_eq!(debug[0]["spans"][1]["name"], "store.get", "{debug:?}");
        assert!(debug[0]["ms"].is_u64(), "{debug:?}");
    }
}
