//! The logging bridge. Each cdylib has its own copy of `tracing`'s and `log`'s
//! global state, so a plugin's log records would go nowhere. At `init` the
//! host hands the plugin a callback; the plugin installs a `log` logger and a
//! `tracing` subscriber that forward every record to it, and the host re-emits
//! them to its own subscriber under the target `topictable::plugin`.

use std::fmt::Write;

use abi_stable::StableAbi;
use abi_stable::std_types::RStr;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use super::panic::guard_release;

/// One log record crossing from a plugin to the host.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiLogRecord<'a> {
    /// 1 = error, 2 = warn, 3 = info, 4 = debug, 5 = trace.
    pub level: u8,
    /// The plugin's name.
    pub plugin: RStr<'a>,
    /// The record's target (usually the plugin's module path).
    pub target: RStr<'a>,
    /// The formatted message and fields.
    pub message: RStr<'a>,
    /// Source file, or empty.
    pub file: RStr<'a>,
    /// Source line, or 0.
    pub line: u32,
}

/// What the host offers a plugin at `init`.
#[repr(C)]
#[derive(Clone, Copy, StableAbi)]
pub struct FfiHostServices {
    /// Receives the plugin's log records.
    pub log: extern "C" fn(&FfiLogRecord<'_>),
    /// The most verbose level the host wants (same scale as `FfiLogRecord::level`; 0 = off).
    pub max_level: u8,
}

extern "C" fn host_log(record: &FfiLogRecord<'_>) {
    guard_release("a plugin log record", || {
        let (plugin, target, message) = (
            record.plugin.as_str(),
            record.target.as_str(),
            record.message.as_str(),
        );
        macro_rules! emit {
            ($level:expr) => {
                tracing::event!(target: "topictable::plugin", $level, plugin, plugin_target = target, "{message}")
            };
        }
        match record.level {
            1 => emit!(Level::ERROR),
            2 => emit!(Level::WARN),
            3 => emit!(Level::INFO),
            4 => emit!(Level::DEBUG),
            _ => emit!(Level::TRACE),
        }
    });
}

fn level_number(level: Level) -> u8 {
    match level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

/// The host's services, handed to each plugin's `init`.
pub fn host_services() -> FfiHostServices {
    let max_level = tracing::level_filters::LevelFilter::current()
        .into_level()
        .map_or(0, level_number);
    FfiHostServices {
        log: host_log,
        max_level,
    }
}

struct Forwarder {
    plugin: &'static str,
    services: FfiHostServices,
}

impl Forwarder {
    fn send(&self, level: u8, target: &str, message: &str, file: Option<&str>, line: Option<u32>) {
        if level > self.services.max_level {
            return;
        }
        (self.services.log)(&FfiLogRecord {
            level,
            plugin: self.plugin.into(),
            target: target.into(),
            message: message.into(),
            file: file.unwrap_or("").into(),
            line: line.unwrap_or(0),
        });
    }
}

struct MessageVisitor(String);

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let sep = if self.0.is_empty() { "" } else { " " };
            let _ = write!(self.0, "{sep}{}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }
}

impl<S: Subscriber> Layer<S> for Forwarder {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut visitor = MessageVisitor(String::new());
        event.record(&mut visitor);
        self.send(
            level_number(*meta.level()),
            meta.target(),
            &visitor.0,
            meta.file(),
            meta.line(),
        );
    }
}

impl log::Log for Forwarder {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() as u8 <= self.services.max_level
    }
    fn log(&self, record: &log::Record<'_>) {
        let message = record.args().to_string();
        self.send(
            record.level() as u8,
            record.target(),
            &message,
            record.file(),
            record.line(),
        );
    }
    fn flush(&self) {}
}

/// Plugin side: route this plugin's `tracing` and `log` records to the host.
/// Called by the generated `init`; a plugin that set its own subscriber keeps it.
pub fn install_plugin_logger(plugin: &'static str, services: FfiHostServices) {
    let max = match services.max_level {
        0 => log::LevelFilter::Off,
        1 => log::LevelFilter::Error,
        2 => log::LevelFilter::Warn,
        3 => log::LevelFilter::Info,
        4 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    if log::set_boxed_logger(Box::new(Forwarder { plugin, services })).is_ok() {
        log::set_max_level(max);
    }
    let subscriber = tracing_subscriber::registry().with(Forwarder { plugin, services });
    let _ = tracing::subscriber::set_global_default(subscriber);
}
