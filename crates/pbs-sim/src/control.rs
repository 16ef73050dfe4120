//! The simulator's own endpoints, outside `/api2/json` and without authentication (the
//! simulator listens on loopback for tests), so that a simulator in a child process can be
//! driven and read:
//!
//! * `GET /sim/cost`: what the requests cost PBS since the start or the last reset, as text
//!   ([`Cost`](crate::Cost)'s `Display`: `manifests N`, `bytes N`, then `endpoint PATH requests N items N
//!   bytes N` and `store NAME manifests N` lines);
//! * `POST /sim/cost/reset`: the same text, then counting starts again;
//! * `POST /sim/change?store=S&ns=NS&type=T&id=ID&change=C`: applies a [`Change`] to a group,
//!   `C` one of `backup`, `prune&keep=N`, `verify&state=ok|failed`, `protect`,
//!   `comment&text=TEXT`, `remove`; 200 `ok`, or 400 with the reason.

use super::api::{Plan, Request, Shared, error, query_param};
use super::changes::Change;
use super::model::{self, VerifyState};
use std::sync::PoisonError;
use std::time::{SystemTime, UNIX_EPOCH};

/// Answers a `/sim/...` request (`path` without the `/sim/`).
pub(crate) fn route(
    sh: &Shared,
    mut plan: Plan,
    req: &Request<'_>,
    path: &str,
    body: &mut Vec<u8>,
) -> Plan {
    plan.json_type = false;
    match (req.method, path) {
        ("GET", "cost") => {
            let cost = sh.cost.lock().unwrap_or_else(PoisonError::into_inner);
            body.extend_from_slice(cost.to_string().as_bytes());
        }
        ("POST", "cost/reset") => {
            let cost = std::mem::take(&mut *sh.cost.lock().unwrap_or_else(PoisonError::into_inner));
            body.extend_from_slice(cost.to_string().as_bytes());
        }
        ("POST", "change") => match parse_change(sh, req.query) {
            Ok((at, change)) => match sh.change(at, change) {
                Ok(()) => body.extend_from_slice(b"ok\n"),
                Err(e) => return error(plan, 400, body, &e),
            },
            Err(e) => return error(plan, 400, body, &e),
        },
        (_, "cost" | "cost/reset" | "change") => {
            return error(plan, 405, body, "method not allowed");
        }
        _ => return error(plan, 404, body, "no such simulator endpoint"),
    }
    plan
}

impl Shared {
    /// Applies `change` to a group (model indices) at the current time.
    pub(crate) fn change(&self, at: (usize, usize, usize), change: Change) -> Result<(), String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.changes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .apply(&self.profile, at, change, now)
    }
}

/// The group (model indices) and change a `/sim/change` query names.
fn parse_change(sh: &Shared, query: &str) -> Result<((usize, usize, usize), Change), String> {
    let p = &sh.profile;
    let param = |name: &str| query_param(query, name).map(|v| v.into_owned());
    let need = |name: &str| param(name).ok_or_else(|| format!("missing parameter '{name}'"));
    let store = need("store")?;
    let d = model::store_index(p, &store).ok_or_else(|| format!("no datastore '{store}'"))?;
    let ns = param("ns").unwrap_or_default();
    let n = model::namespace_index(p, &ns).ok_or_else(|| format!("no namespace '{ns}'"))?;
    let (t, id) = (need("type")?, need("id")?);
    let g = model::group_index(p, &t, &id).ok_or_else(|| format!("no group {t}/{id}"))?;
    let change = match need("change")?.as_str() {
        "backup" => Change::NewBackup,
        "prune" => Change::Prune {
            keep: need("keep")?
                .parse()
                .map_err(|_| "'keep' is not a number".to_string())?,
        },
        "verify" => match need("state")?.as_str() {
            "ok" => Change::Verify(VerifyState::Ok),
            "failed" => Change::Verify(VerifyState::Failed),
            s => return Err(format!("unknown verify state '{s}'")),
        },
        "protect" => Change::Protect,
        "comment" => Change::Comment(need("text")?),
        "remove" => Change::Remove,
        c => return Err(format!("unknown change '{c}'")),
    };
    Ok(((d, n, g), change))
}

/// Records the cost of one answered request.
pub(crate) fn record(
    sh: &Shared,
    plan_endpoint: &str,
    store: Option<&str>,
    items: u64,
    bytes: u64,
) {
    if plan_endpoint.is_empty() {
        return;
    }
    sh.cost
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .record(plan_endpoint, store, items, bytes);
}
