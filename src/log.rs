//! A small leveled logger to standard error, one line per event whatever the message holds,
//! in one of three formats (`--log-format`):
//!
//! - `text`: `2026-11-24T02:50:21Z WARN  message`
//! - `logfmt`: `time=2026-11-24T02:50:21Z level=warn msg="message"`
//! - `json`: `{"time":"2026-11-24T02:50:21Z","level":"warn","msg":"message"}`
//!
//! Messages are built by the caller and never include the API token secret; as a second line
//! of defence, a secret registered with [`redact`] is replaced by `<redacted>` in every line.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

/// How much to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Only failures that stop the exporter or a scrape.
    Error = 0,
    /// Also problems the admin should fix.
    Warn = 1,
    /// Also start-up and state changes (the default).
    Info = 2,
    /// Also every PBS request and scrape.
    Debug = 3,
}

impl Level {
    /// Parses `error|warn|warning|info|debug` in any case.
    pub fn parse(s: &str) -> Option<Level> {
        match s.to_ascii_lowercase().as_str() {
            "error" => Some(Level::Error),
            "warn" | "warning" => Some(Level::Warn),
            "info" => Some(Level::Info),
            "debug" | "trace" => Some(Level::Debug),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN ",
            Level::Info => "INFO ",
            Level::Debug => "DEBUG",
        }
    }
}

/// How each line is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `TIME LEVEL message`, for people (the default).
    Text = 0,
    /// `time=... level=... msg="..."`, as go-kit and the Prometheus exporters write.
    Logfmt = 1,
    /// One JSON object per line: `time`, `level`, `msg`.
    Json = 2,
}

impl Format {
    /// Parses `text|logfmt|json` in any case.
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Some(Format::Text),
            "logfmt" => Some(Format::Logfmt),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
static FORMAT: AtomicU8 = AtomicU8::new(Format::Text as u8);
/// Secrets replaced by `<redacted>` in every line.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Sets the line format.
pub fn set_format(format: Format) {
    FORMAT.store(format as u8, Ordering::Relaxed);
}

fn format() -> Format {
    match FORMAT.load(Ordering::Relaxed) {
        1 => Format::Logfmt,
        2 => Format::Json,
        _ => Format::Text,
    }
}

/// Registers a secret that must never appear in a log line. Very short strings are ignored
/// (they would redact ordinary words); real secrets (PBS token secrets are UUIDs) are long.
pub fn redact(secret: &str) {
    if secret.len() >= 8 {
        SECRETS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(secret.to_string());
    }
}

/// Sets the most verbose level that is written.
pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// True when messages of `level` are written.
pub fn enabled(level: Level) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Writes one line at `level` (use the `log_*!` macros).
pub fn write(level: Level, args: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut message = args.to_string();
    for secret in SECRETS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        if message.contains(secret.as_str()) {
            message = message.replace(secret.as_str(), "<redacted>");
        }
    }
    eprintln!("{}", line(format(), now, level, &message));
}

/// One log line, without the newline.
pub fn line(format: Format, unix_secs: i64, level: Level, message: &str) -> String {
    let time = rfc3339(unix_secs);
    let mut out = String::with_capacity(message.len() + 64);
    match format {
        Format::Text => {
            let _ = write!(out, "{time} {} ", level.label());
            escape_into(&mut out, message, false);
        }
        Format::Logfmt => {
            let _ = write!(out, "time={time} level={} msg=\"", level.name());
            escape_into(&mut out, message, true);
            out.push('"');
        }
        Format::Json => {
            let _ = write!(
                out,
                "{{\"time\":\"{time}\",\"level\":\"{}\",\"msg\":\"",
                level.name()
            );
            escape_into(&mut out, message, true);
            out.push_str("\"}");
        }
    }
    out
}

/// Escapes control characters (`\n`, `\r`, `\t`, else `\u00XX`, valid in both logfmt's Go
/// quoting and JSON) so an event stays on one line; inside quotes (`quoted`, for logfmt and
/// JSON) also backslash and double quote.
fn escape_into(out: &mut String, message: &str, quoted: bool) {
    for c in message.chars() {
        match c {
            '\\' | '"' if quoted => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Logs at error level.
#[macro_export]
macro_rules! log_error { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Error, format_args!($($t)*)) } }
/// Logs at warn level.
#[macro_export]
macro_rules! log_warn { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Warn, format_args!($($t)*)) } }
/// Logs at info level.
#[macro_export]
macro_rules! log_info { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Info, format_args!($($t)*)) } }
/// Logs at debug level.
#[macro_export]
macro_rules! log_debug { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Debug, format_args!($($t)*)) } }

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_784_541_600), "2026-07-20T10:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn each_format_writes_one_escaped_line() {
        let msg = "PBS said \"no\"\nat C:\\pbs\t\u{1}";
        let t = 1_784_541_600;
        assert_eq!(
            line(Format::Text, t, Level::Warn, msg),
            "2026-07-20T10:00:00Z WARN  PBS said \"no\"\\nat C:\\pbs\\t\\u0001"
        );
        assert_eq!(
            line(Format::Logfmt, t, Level::Warn, msg),
            "time=2026-07-20T10:00:00Z level=warn msg=\"PBS said \\\"no\\\"\\nat C:\\\\pbs\\t\\u0001\""
        );
        let json = line(Format::Json, t, Level::Error, msg);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["msg"], msg);
        assert_eq!(v["level"], "error");
        assert_eq!(v["time"], "2026-07-20T10:00:00Z");
        for f in [Format::Text, Format::Logfmt, Format::Json] {
            assert!(!line(f, t, Level::Info, "a\nb\r\nc").contains(['\n', '\r']));
        }
    }

    #[test]
    fn formats_parse() {
        assert_eq!(Format::parse("JSON"), Some(Format::Json));
        assert_eq!(Format::parse("logfmt"), Some(Format::Logfmt));
        assert_eq!(Format::parse("yaml"), None);
    }

    #[test]
    fn levels_parse() {
        assert_eq!(Level::parse("WARNING"), Some(Level::Warn));
        assert_eq!(Level::parse("loud"), None);
    }
}
