//! Faults the simulator can inject, to test how the exporter copes with a slow, broken or
//! hostile PBS. All are off by default and can be changed while the simulator runs
//! (`SimHandle::set_faults`).

use std::time::Duration;

/// Misbehaviours of the simulated PBS. Path prefixes are API paths below `/api2/json` (e.g.
/// `/nodes/localhost/status`); a prefix that still starts with `/api2/json` works too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Added before every response (a slow PBS).
    pub delay: Duration,
    /// The snapshots stream sends 200 and part of the JSON, then closes the connection (TLS
    /// close_notify, no terminating chunk) in the middle of the array.
    pub truncate_snapshots: bool,
    /// Like `truncate_snapshots`, but the chunked body ends properly with its 0-chunk: a complete
    /// HTTP message holding truncated JSON. The connection stays usable.
    pub truncate_snapshots_clean: bool,
    /// Every request gets 401 after the auth delay, whatever its token.
    pub unauthorized: bool,
    /// API path prefixes answering 403 `permission check failed` after the forbid delay.
    pub forbidden: Vec<String>,
    /// Store names that are removable and not mounted.
    pub unmounted: Vec<String>,
    /// Store names in offline maintenance ("disk replacement").
    pub maintenance: Vec<String>,
    /// `(store, ns)`: groups and snapshots of that namespace answer 400 `ENOENT: ...`.
    pub failing_namespace: Option<(String, String)>,
    /// API path prefixes answering 200 with invalid JSON.
    pub malformed: Vec<String>,
    /// The snapshots endpoint streams an endless, valid-looking array until the client leaves.
    pub oversized: bool,
    /// The task list sends 200 and part of the JSON, then closes the connection.
    pub truncate_tasks: bool,
    /// The token lacks `Sys.Audit` on `/`: the subscription shows its status only (no key,
    /// product or due date).
    pub no_sys_audit: bool,
}

/// The body of a `malformed` answer.
pub const MALFORMED_BODY: &str = "{\"data\":[{\"store\":\"x\",,]";

/// Whether `api_path` (below `/api2/json`) starts with one of `prefixes`.
pub(crate) fn matches(prefixes: &[String], api_path: &str) -> bool {
    prefixes.iter().any(|p| {
        let p = p.strip_prefix("/api2/json").unwrap_or(p);
        !p.is_empty() && api_path.starts_with(p)
    })
}

impl Faults {
    /// Whether `store` is in `unmounted`.
    pub(crate) fn is_unmounted(&self, store: &str) -> bool {
        self.unmounted.iter().any(|s| s == store)
    }

    /// Whether `store` is in `maintenance`.
    pub(crate) fn is_maintenance(&self, store: &str) -> bool {
        self.maintenance.iter().any(|s| s == store)
    }

    /// Whether groups/snapshots of `ns` in `store` fail.
    pub(crate) fn is_failing_namespace(&self, store: &str, ns: &str) -> bool {
        self.failing_namespace
            .as_ref()
            .is_some_and(|(s, n)| s == store && n == ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_with_or_without_api_root() {
        let p = vec![
            "/api2/json/nodes".to_string(),
            "/admin/datastore/store2".into(),
        ];
        assert!(matches(&p, "/nodes/localhost/status"));
        assert!(matches(&p, "/admin/datastore/store2/groups"));
        assert!(!matches(&p, "/admin/datastore/store1/groups"));
        assert!(!matches(&[String::new()], "/version"));
    }
}
