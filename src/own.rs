//! The exporter's own metrics: its build info and its `process_*` families. They are served on
//! a `/metrics` request without `target` (with `PBS_ENDPOINT`'s families when it is set), never
//! with a target's, following the Prometheus multi-target exporter guide.

use crate::collectors::process::{self, ProcessStats};
use crate::exposition::{Cursor, Families};

crate::families! {
    pub enum Family {
        BuildInfo => Gauge "pbs_exporter_build_info" "The exporter's version as a label. Always 1.",
    }
}

/// The exporter's own families, refreshed per request.
#[derive(Debug)]
pub struct OwnMetrics {
    build: Families,
    process: Families,
    stats: ProcessStats,
}

impl Default for OwnMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl OwnMetrics {
    /// Empty families; [`OwnMetrics::collect`] fills them.
    pub fn new() -> Self {
        OwnMetrics {
            build: Families::new(Family::TABLE),
            process: Families::new(process::Family::TABLE),
            stats: ProcessStats::new(),
        }
    }

    /// Reads the process figures now.
    pub fn collect(&mut self) {
        self.build.clear();
        self.build.sample(
            Family::BuildInfo,
            &[("version", env!("CARGO_PKG_VERSION"))],
            1u64,
        );
        self.process.clear();
        self.stats.collect(&mut self.process);
    }

    /// Renders from `cursor` into `out` until it holds `limit` bytes; true when there is more.
    pub fn render(&self, cursor: &mut OwnCursor, out: &mut Vec<u8>, limit: usize) -> bool {
        if !cursor.build_done {
            if self.build.render(&mut cursor.inner, out, limit) {
                return true;
            }
            cursor.build_done = true;
            cursor.inner = Cursor::default();
        }
        self.process.render(&mut cursor.inner, out, limit)
    }
}

/// A position in the rendering of [`OwnMetrics`].
#[derive(Debug, Clone, Copy, Default)]
pub struct OwnCursor {
    build_done: bool,
    inner: Cursor,
}
