//! Logs through `tracing` with a filter that can change at run time, and OpenTelemetry trace
//! export over OTLP/gRPC when `tracing.otlp_endpoint` is set.

use std::{sync::Arc, time::Duration};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{
    Resource,
    trace::{Sampler, SdkTracerProvider},
};
use parking_lot::Mutex;
use tracing_subscriber::{
    EnvFilter, Layer, Registry, layer::SubscriberExt, reload, util::SubscriberInitExt,
};

use crate::{
    config::{Config, LogFormat},
    error::ServerError,
};

/// Changes the log filter at run time.
#[derive(Clone)]
pub struct LogControl {
    handle: Option<reload::Handle<EnvFilter, Registry>>,
    current: Arc<Mutex<String>>,
}

impl LogControl {
    /// A control that changes nothing (when logging was set up elsewhere, as in tests).
    pub fn detached(level: &str) -> Self {
        LogControl {
            handle: None,
            current: Arc::new(Mutex::new(level.to_string())),
        }
    }

    /// Installs a new filter such as `debug` or `shinydb_server=debug,info`.
    pub fn set(&self, filter: &str) -> Result<String, String> {
        let parsed = EnvFilter::try_new(filter).map_err(|e| format!("{filter:?}: {e}"))?;
        if let Some(h) = &self.handle {
            h.reload(parsed).map_err(|e| e.to_string())?;
        }
        *self.current.lock() = filter.to_string();
        tracing::info!(filter, "log filter changed");
        Ok(filter.to_string())
    }

    /// The filter in force.
    pub fn current(&self) -> String {
        self.current.lock().clone()
    }
}

/// Installed logging and tracing; flush it with [`Telemetry::shutdown`] before exiting.
pub struct Telemetry {
    /// The run-time log filter.
    pub log: LogControl,
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports the spans still buffered and stops the exporter.
    pub fn shutdown(self) {
        if let Some(p) = self.provider
            && let Err(e) = p.shutdown()
        {
            eprintln!("shinydb-server: flushing trace export failed: {e}");
        }
    }
}

/// Installs the global subscriber. Must run inside the Tokio runtime when OTLP export is on.
pub fn init(cfg: &Config) -> Result<Telemetry, ServerError> {
    let (filter, handle) = reload::Layer::new(
        EnvFilter::try_new(&cfg.logging.level)
            .map_err(|e| ServerError::Telemetry(e.to_string()))?,
    );
    let fmt = match cfg.logging.format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let mut provider = None;
    let otel = match &cfg.tracing.otlp_endpoint {
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .with_timeout(Duration::from_secs(5))
                .build()
                .map_err(|e| ServerError::Telemetry(format!("OTLP exporter: {e}")))?;
            let p = SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                    cfg.tracing.sample_ratio,
                ))))
                .with_resource(
                    Resource::builder()
                        .with_service_name(cfg.tracing.service_name.clone())
                        .build(),
                )
                .build();
            let tracer = p.tracer("shinydb-server");
            provider = Some(p);
            Some(tracing_opentelemetry::layer().with_tracer(tracer))
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()
        .map_err(|e| ServerError::Telemetry(e.to_string()))?;
    Ok(Telemetry {
        log: LogControl {
            handle: Some(handle),
            current: Arc::new(Mutex::new(cfg.logging.level.clone())),
        },
        provider,
    })
}
