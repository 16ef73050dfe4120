//! Request routing: authentication, faults, and which body answers which `/api2/json` path.
//! Synchronous: it decides the answer (and how long to wait before it) and writes fixed bodies
//! into the connection's buffer; `server` does the waiting and the I/O.

use super::changes::Changes;
use super::cost::Cost;
use super::faults::{self, Faults, MALFORMED_BODY};
use super::jobs::{self, JobType};
use super::json::{self, StoreState};
use super::model::{self, Profile};
use super::stream::{Mode, SnapshotStream, Streamed};
use super::tape;
use super::tasks::{Filter, TaskStream};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// State shared by the serving thread and the `SimHandle`.
#[derive(Debug)]
pub(crate) struct Shared {
    pub profile: Profile,
    pub token_id: String,
    pub token_secret: String,
    pub auth_delay: Duration,
    pub forbid_delay: Duration,
    pub fingerprint: String,
    pub faults: Mutex<Faults>,
    /// Requests per API path (below `/api2/json`).
    pub requests: Mutex<HashMap<String, u64>>,
    pub connections: AtomicU64,
    /// Calls of the list endpoints, to rotate their (arbitrary, like PBS) order.
    pub list_calls: AtomicU64,
    /// The changes made to the content so far.
    pub changes: Mutex<Changes>,
    /// What the requests cost PBS since the last reset.
    pub cost: Mutex<Cost>,
}

impl Shared {
    fn count(&self, api_path: &str) {
        let mut map = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get_mut(api_path) {
            Some(n) => *n += 1,
            None => {
                map.insert(api_path.to_string(), 1);
            }
        }
    }

    /// Checks an `Authorization` header value the way PBS does for API tokens.
    fn authorized(&self, header: Option<&[u8]>) -> bool {
        let Some(rest) = header.and_then(|h| h.trim_ascii().strip_prefix(b"PBSAPIToken")) else {
            return false;
        };
        let Some((&sep, rest)) = rest.split_first() else {
            return false;
        };
        if sep != b'=' && sep != b' ' {
            return false;
        }
        let Ok(rest) = std::str::from_utf8(rest) else {
            return false;
        };
        let Some((id, secret)) = rest.split_once(':') else {
            return false;
        };
        id == self.token_id && percent_decode(secret) == self.token_secret
    }
}

/// The parts of a request routing looks at.
pub(crate) struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub authorization: Option<&'a [u8]>,
}

/// How to answer a request.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Wait this long before answering.
    pub wait: Duration,
    pub status: u16,
    /// Send `Content-Type: application/json;charset=UTF-8` (not on 401).
    pub json_type: bool,
    /// A streamed body; otherwise the body is in the buffer given to `route`.
    pub stream: Option<Streamed>,
    /// The endpoint in [`Cost`] (`{store}` and `{node}` for the names); empty: not counted.
    pub endpoint: String,
    /// The datastore a per-datastore endpoint was asked about.
    pub store: Option<String>,
}

/// Decides the answer to `req`; fixed bodies are written to `body` (cleared first).
pub(crate) fn route(sh: &Shared, req: &Request<'_>, body: &mut Vec<u8>) -> Plan {
    body.clear();
    let mut plan = Plan {
        wait: Duration::ZERO,
        status: 200,
        json_type: true,
        stream: None,
        endpoint: String::new(),
        store: None,
    };
    if let Some(control) = req.path.strip_prefix("/sim/") {
        return super::control::route(sh, plan, req, control, body);
    }
    let faults = sh.faults.lock().unwrap_or_else(PoisonError::into_inner);
    plan.wait = faults.delay;
    let api = match req.path.strip_prefix("/api2/json") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => return error(plan, 404, body, &not_found(req.path)),
    };
    let api = match api.trim_end_matches('/') {
        "" => "/",
        a => a,
    };
    sh.count(api);
    plan.endpoint = endpoint_name(api);
    if api != "/ping" && (faults.unauthorized || !sh.authorized(req.authorization)) {
        plan.wait += sh.auth_delay;
        plan.json_type = false;
        return error(plan, 401, body, "authentication failed");
    }
    if req.method != "GET" {
        return error(
            plan,
            405,
            body,
            &format!("method '{}' not allowed", req.method),
        );
    }
    if faults::matches(&faults.forbidden, api) {
        plan.wait += sh.forbid_delay;
        return error(plan, 403, body, "permission check failed");
    }
    if faults::matches(&faults.malformed, api) {
        body.extend_from_slice(MALFORMED_BODY.as_bytes());
        return plan;
    }
    let p = &sh.profile;
    let segs: Vec<&str> = api.split('/').skip(1).collect();
    match segs.as_slice() {
        ["ping"] => json::ping(body),
        ["version"] => json::version(body),
        ["nodes", node, "status"] if !node.is_empty() => json::node_status(body, &sh.fingerprint),
        ["nodes", node, "subscription"] if !node.is_empty() => {
            json::subscription(body, faults.no_sys_audit)
        }
        ["nodes", node, "tasks"] if !node.is_empty() => {
            let changes = sh.changes.lock().unwrap_or_else(PoisonError::into_inner);
            return tasks(plan, p, &faults, &changes.tasks, req.query, body);
        }
        ["admin", "gc"] => jobs::write(body, p, JobType::Gc),
        ["admin", "verify"] => jobs::write(body, p, JobType::Verify),
        ["admin", "prune"] => jobs::write(body, p, JobType::Prune),
        ["tape", "backup"] => jobs::write(body, p, JobType::TapeBackup),
        ["admin", "sync"] => {
            // PBS lists only pull jobs unless asked for `all` (or `push`).
            let direction = query_param(req.query, "sync-direction");
            let want = |j: &jobs::Job| match direction.as_deref() {
                Some("all") => true,
                Some("push") => j.direction == Some("push"),
                _ => j.direction != Some("push"),
            };
            jobs::write_filtered(body, p, JobType::Sync, want);
        }
        ["status", "datastore-usage"] => {
            body.extend_from_slice(b"{\"data\":[");
            for (i, d) in rotated(sh, p.datastores).enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                json::usage_entry(body, p, d, store_state(&faults, d));
            }
            body.extend_from_slice(b"]}");
        }
        ["admin", "datastore"] => {
            body.extend_from_slice(b"{\"data\":[");
            for (i, d) in rotated(sh, p.datastores).enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                json::datastore_list_entry(body, p, d, store_state(&faults, d));
            }
            body.extend_from_slice(b"]}");
        }
        ["tape", "drive"] => tape::drives(body, p),
        ["tape", "changer"] => tape::changers(body, p),
        ["tape", "media", "list"] => {
            // Stricter than PBS: the default (true) would make PBS query every changer.
            match query_param(req.query, "update-status").as_deref() {
                Some("false" | "0") => tape::media(body, p),
                _ => return error(plan, 400, body, tape::UPDATE_STATUS_REFUSED),
            }
        }
        // Stricter than PBS: drive status and the like lock or move the drive.
        ["tape", "drive", _, ..] => return error(plan, 400, body, tape::DRIVE_CALL_REFUSED),
        [
            "admin",
            "datastore",
            store,
            what @ ("namespace" | "groups" | "snapshots" | "active-operations" | "status"),
        ] => {
            plan.store = Some(store.to_string());
            let changes = sh.changes.lock().unwrap_or_else(PoisonError::into_inner);
            let at = StoreCall {
                faults: &faults,
                changes: &changes,
                store,
                what,
                query: req.query,
            };
            return store_endpoint(plan, p, at, body);
        }
        _ => return error(plan, 404, body, &not_found(req.path)),
    }
    plan
}

/// A per-datastore call and what it depends on.
struct StoreCall<'a> {
    faults: &'a Faults,
    changes: &'a Changes,
    store: &'a str,
    what: &'a str,
    query: &'a str,
}

fn store_endpoint(mut plan: Plan, p: &Profile, at: StoreCall<'_>, body: &mut Vec<u8>) -> Plan {
    let StoreCall {
        faults,
        changes,
        store,
        what,
        query,
    } = at;
    let Some(d) = model::store_index(p, store) else {
        return error(plan, 400, body, &format!("no such datastore '{store}'"));
    };
    if faults.is_unmounted(store) {
        return error(plan, 400, body, &model::not_mounted_message(store));
    }
    if faults.is_maintenance(store) {
        return error(plan, 400, body, &model::maintenance_message(store));
    }
    if what == "active-operations" {
        json::active_operations(body, d);
        return plan;
    }
    if what == "status" {
        let verbose = match query_param(query, "verbose").as_deref() {
            None | Some("0" | "false") => false,
            Some("1" | "true") => true,
            Some(_) => return error(plan, 400, body, &bad_param("verbose")),
        };
        json::datastore_status(body, p, d, verbose);
        return plan;
    }
    if what == "namespace" {
        let parent = query_param(query, "parent").unwrap_or_default();
        let max_depth = match query_param(query, "max-depth").map(|v| v.parse::<usize>()) {
            None => 7,
            Some(Ok(v)) if v <= 7 => v,
            Some(_) => return error(plan, 400, body, &bad_param("max-depth")),
        };
        let Some(pn) = model::namespace_index(p, &parent) else {
            return error(plan, 400, body, model::ENOENT);
        };
        let base = model::namespace_depth(pn);
        let list = (0..p.namespaces).filter(|&n| {
            let name = model::namespace_name(n);
            let below =
                parent.is_empty() || name == *parent || name.starts_with(&format!("{parent}/"));
            below
                && model::namespace_depth(n) >= base
                && model::namespace_depth(n) - base <= max_depth
        });
        json::namespaces(body, list);
        return plan;
    }
    let ns = query_param(query, "ns").unwrap_or_default();
    if !valid_namespace(&ns) {
        return error(plan, 400, body, &bad_param("ns"));
    }
    if faults.is_failing_namespace(store, &ns) {
        return error(plan, 400, body, model::ENOENT);
    }
    let Some(n) = model::namespace_index(p, &ns) else {
        return error(plan, 400, body, model::ENOENT);
    };
    if what == "groups" {
        json::groups(body, p, d, n, changes);
        return plan;
    }
    let type_filter = match query_param(query, "backup-type").as_deref() {
        None => None,
        Some("vm") => Some("vm"),
        Some("ct") => Some("ct"),
        Some("host") => Some("host"),
        Some(_) => return error(plan, 400, body, &bad_param("backup-type")),
    };
    let id_filter = query_param(query, "backup-id").map(Cow::into_owned);
    let mode = if faults.oversized {
        Mode::Endless
    } else if faults.truncate_snapshots {
        Mode::Cut { clean: false }
    } else if faults.truncate_snapshots_clean {
        Mode::Cut { clean: true }
    } else {
        Mode::Complete
    };
    plan.stream = Some(Streamed::Snapshots(SnapshotStream::new(
        *p,
        (d, n),
        type_filter,
        id_filter,
        changes.namespace(d, n),
        mode,
    )));
    plan
}

/// `/nodes/{node}/tasks`: `since`, `typefilter`, `store`, `start`, `limit` (default 50, 0:
/// all), streamed, with the tasks the changes left (`extra`).
fn tasks(
    mut plan: Plan,
    p: &Profile,
    faults: &Faults,
    extra: &[super::tasks::Task],
    query: &str,
    body: &mut Vec<u8>,
) -> Plan {
    let num = |name: &str| query_param(query, name).map(|v| v.parse::<u64>());
    let since = match num("since") {
        None => None,
        Some(Ok(v)) => Some(i64::try_from(v).unwrap_or(i64::MAX)),
        Some(Err(_)) => return error(plan, 400, body, &bad_param("since")),
    };
    let (start, limit) = match (num("start"), num("limit")) {
        (Some(Err(_)), _) => return error(plan, 400, body, &bad_param("start")),
        (_, Some(Err(_))) => return error(plan, 400, body, &bad_param("limit")),
        (s, l) => (
            s.and_then(Result::ok).unwrap_or(0) as usize,
            l.and_then(Result::ok).unwrap_or(50) as usize,
        ),
    };
    let mode = if faults.truncate_tasks {
        Mode::Cut { clean: false }
    } else {
        Mode::Complete
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let filter = Filter {
        since,
        typefilter: query_param(query, "typefilter").map(Cow::into_owned),
        store: query_param(query, "store").map(Cow::into_owned),
    };
    plan.stream = Some(Streamed::Tasks(TaskStream::new(
        *p,
        now,
        &filter,
        extra,
        (start, limit),
        mode,
    )));
    plan
}

fn store_state(faults: &Faults, d: usize) -> StoreState {
    let name = model::store_name(d);
    if faults.is_unmounted(&name) {
        StoreState::Unmounted
    } else if faults.is_maintenance(&name) {
        StoreState::Maintenance
    } else {
        StoreState::Normal
    }
}

/// `0..n` starting at a different place on every call: PBS lists come from a `HashMap`.
fn rotated(sh: &Shared, n: usize) -> impl Iterator<Item = usize> {
    let start = if n == 0 {
        0
    } else {
        (sh.list_calls.fetch_add(1, Ordering::Relaxed) % n as u64) as usize
    };
    (0..n).map(move |i| (start + i) % n)
}

/// The [`Cost`] name of an API path: datastore and node names become `{store}` and `{node}`.
fn endpoint_name(api: &str) -> String {
    let segs: Vec<&str> = api.split('/').collect();
    match segs.as_slice() {
        ["", "admin", "datastore", _, rest @ ..] if !rest.is_empty() => {
            format!("/admin/datastore/{{store}}/{}", rest.join("/"))
        }
        ["", "nodes", _, rest @ ..] => format!("/nodes/{{node}}/{}", rest.join("/")),
        _ => api.to_string(),
    }
}

pub(crate) fn error(mut plan: Plan, status: u16, body: &mut Vec<u8>, text: &str) -> Plan {
    body.clear();
    body.extend_from_slice(text.as_bytes());
    plan.status = status;
    plan
}

fn not_found(path: &str) -> String {
    format!("Path '{path}' not found.")
}

fn bad_param(name: &str) -> String {
    format!("parameter verification failed - '{name}': value does not match the regex pattern")
}

/// PBS namespace syntax: up to 7 `/`-separated `[A-Za-z0-9_][A-Za-z0-9._-]*` components.
fn valid_namespace(ns: &str) -> bool {
    if ns.is_empty() {
        return true;
    }
    ns.len() <= 256
        && ns.split('/').count() <= 7
        && ns.split('/').all(|c| {
            let mut b = c.bytes();
            b.next()
                .is_some_and(|f| f.is_ascii_alphanumeric() || f == b'_')
                && b.all(|x| x.is_ascii_alphanumeric() || b"._-".contains(&x))
        })
}

/// The percent-decoded value of query parameter `name` (`+` is a space).
pub(crate) fn query_param<'a>(query: &'a str, name: &str) -> Option<Cow<'a, str>> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| percent_decode(k) == name)
        .map(|(_, v)| percent_decode(v))
}

/// Decodes `%XX` escapes and `+`; invalid escapes stay as they are.
pub(crate) fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16).map(|v| v as u8);
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded() {
        let q = "ns=ns1%2Fsub2&backup-type=vm&x&plus=a+b&bad=%zz%4";
        assert_eq!(query_param(q, "ns").as_deref(), Some("ns1/sub2"));
        assert_eq!(
            query_param("ns=ns1/sub2", "ns").as_deref(),
            Some("ns1/sub2")
        );
        assert_eq!(query_param(q, "backup-type").as_deref(), Some("vm"));
        assert_eq!(query_param(q, "x").as_deref(), Some(""));
        assert_eq!(query_param(q, "plus").as_deref(), Some("a b"));
        assert_eq!(query_param(q, "bad").as_deref(), Some("%zz%4"));
        assert_eq!(query_param(q, "missing"), None);
        assert_eq!(query_param("", "ns"), None);
    }

    #[test]
    fn namespace_syntax() {
        for ok in ["", "ns1", "ns1/sub2", "_a.b-c", "a/b/c/d/e/f/g"] {
            assert!(valid_namespace(ok), "{ok}");
        }
        for bad in ["/ns1", "ns1/", "a//b", ".a", "a b", "a/b/c/d/e/f/g/h"] {
            assert!(!valid_namespace(bad), "{bad}");
        }
    }
}
