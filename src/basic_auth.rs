//! HTTP basic auth against the bcrypt hashes of the web config's `basic_auth_users`.
//!
//! bcrypt is slow on purpose (tens to hundreds of milliseconds at the usual costs), and
//! Prometheus sends the same credentials on every scrape, so a successful check is remembered:
//! per user, an HMAC-SHA-256 (key random per loaded file) of the user and password that last
//! passed. A request whose HMAC equals it (compared in constant time) is let in without bcrypt.
//! Anything else runs bcrypt on a short-lived thread, one at a time, so wrong passwords cannot
//! stall the single-threaded server and its scrapes.

use base64::Engine;
use ring::hmac;
use std::cell::Cell;
use std::str::FromStr;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The users of a web config and what passed before.
pub struct BasicAuth {
    users: Vec<User>,
    /// Key of the remembered HMACs; new with every loaded file.
    key: hmac::Key,
    /// Admits one bcrypt computation at a time.
    bcrypt_slot: async_lock::Semaphore,
    /// bcrypt computations run so far (for tests and debug logs).
    bcrypt_runs: Cell<u64>,
}

struct User {
    name: String,
    hash: Arc<str>,
    /// HMAC of the user and password that last passed bcrypt.
    passed: Cell<Option<[u8; 32]>>,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: never a hash or anything derived from a password.
        let names: Vec<&str> = self.users.iter().map(|u| u.name.as_str()).collect();
        f.debug_struct("BasicAuth").field("users", &names).finish()
    }
}

impl BasicAuth {
    /// Checks every hash's format; the error names the user.
    pub fn new(users: &[(String, String)]) -> Result<BasicAuth, (String, String)> {
        let mut out = Vec::with_capacity(users.len());
        for (name, hash) in users {
            bcrypt::HashParts::from_str(hash)
                .map_err(|e| (name.clone(), format!("not a bcrypt hash ({e})")))?;
            out.push(User {
                name: name.clone(),
                hash: Arc::from(hash.as_str()),
                passed: Cell::new(None),
            });
        }
        let rng = ring::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map_err(|_| (String::new(), "no system randomness".to_string()))?;
        Ok(BasicAuth {
            users: out,
            key,
            bcrypt_slot: async_lock::Semaphore::new(1),
            bcrypt_runs: Cell::new(0),
        })
    }

    /// Number of users.
    pub fn users(&self) -> usize {
        self.users.len()
    }

    /// bcrypt computations run so far.
    pub fn bcrypt_runs(&self) -> u64 {
        self.bcrypt_runs.get()
    }

    /// True when `authorization` (the header's value, if any) holds a user's credentials.
    pub async fn check(&self, authorization: Option<&[u8]>) -> bool {
        let Some(creds) = authorization.and_then(parse_basic) else {
            return false;
        };
        let Some(known) = self
            .users
            .iter()
            .find(|u| u.name.as_bytes() == creds.user())
        else {
            // Spend what a known user costs, so timing does not tell which names exist.
            if let Some(first) = self.users.first() {
                self.bcrypt(creds, first.hash.clone()).await;
            }
            return false;
        };
        let tag = self.tag(creds.user(), creds.password());
        if let Some(passed) = known.passed.get() {
            if bool::from(passed.ct_eq(&tag)) {
                return true;
            }
        }
        let ok = self.bcrypt(creds, known.hash.clone()).await;
        if ok {
            known.passed.set(Some(tag));
        }
        ok
    }

    fn tag(&self, user: &[u8], password: &[u8]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(user);
        ctx.update(&[0]);
        ctx.update(password);
        let mut out = [0; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// Runs bcrypt on its own thread, one at a time, and waits for it without blocking.
    async fn bcrypt(&self, creds: Credentials, hash: Arc<str>) -> bool {
        let _slot = self.bcrypt_slot.acquire().await;
        self.bcrypt_runs.set(self.bcrypt_runs.get() + 1);
        let result = Arc::new(async_lock::OnceCell::new());
        let sender = result.clone();
        let spawned = std::thread::Builder::new()
            .name("bcrypt".into())
            .spawn(move || {
                let ok = bcrypt::verify(creds.password(), &hash).unwrap_or(false);
                let _ = sender.set_blocking(ok);
            });
        match spawned {
            Ok(_) => *result.wait().await,
            Err(_) => false,
        }
    }
}

/// Credentials from an `Authorization: Basic` header: `user:password`, decoded.
pub struct Credentials {
    decoded: Vec<u8>,
    colon: usize,
}

impl Credentials {
    /// The user name's bytes.
    pub fn user(&self) -> &[u8] {
        &self.decoded[..self.colon]
    }

    /// The password's bytes.
    pub fn password(&self) -> &[u8] {
        &self.decoded[self.colon + 1..]
    }
}

/// Parses `Basic base64(user:password)`; the scheme is matched in any case. `None` for any
/// other scheme, bad base64 or no `:`.
pub fn parse_basic(value: &[u8]) -> Option<Credentials> {
    let value = value.trim_ascii();
    let (scheme, rest) = value.split_at(value.iter().position(|&b| b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim_ascii())
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some(Credentials { decoded, colon })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::block_on;

    fn header(user: &str, password: &str) -> Vec<u8> {
        let raw = format!("{user}:{password}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
        .into_bytes()
    }

    fn auth() -> BasicAuth {
        // Cost 4, bcrypt's lowest, keeps the test fast.
        let alice = bcrypt::hash("s3cret:with colon", 4).unwrap();
        let bob = bcrypt::hash("hunter2", 4).unwrap();
        BasicAuth::new(&[("alice".into(), alice), ("bob".into(), bob)]).unwrap()
    }

    #[test]
    fn right_password_passes_and_is_remembered() {
        let a = auth();
        let good = header("alice", "s3cret:with colon");
        for _ in 0..3 {
            assert!(block_on(a.check(Some(&good))));
        }
        assert_eq!(
            a.bcrypt_runs(),
            1,
            "bcrypt ran once, then the cache answered"
        );
        assert!(block_on(a.check(Some(&header("bob", "hunter2")))));
        assert_eq!(a.bcrypt_runs(), 2);
    }

    #[test]
    fn wrong_missing_or_malformed_credentials_fail() {
        let a = auth();
        assert!(block_on(
            a.check(Some(&header("alice", "s3cret:with colon")))
        ));
        let runs = a.bcrypt_runs();
        // A wrong password after a right one is checked again, never taken from the cache.
        assert!(!block_on(a.check(Some(&header("alice", "s3cret")))));
        assert!(!block_on(
            a.check(Some(&header("bob", "s3cret:with colon")))
        ));
        assert!(!block_on(a.check(Some(&header("mallory", "hunter2")))));
        assert_eq!(a.bcrypt_runs(), runs + 3, "unknown users cost a bcrypt too");
        assert!(!block_on(a.check(None)));
        assert!(!block_on(a.check(Some(b"Bearer abc"))));
        assert!(!block_on(a.check(Some(b"Basic !!notbase64"))));
        assert!(!block_on(a.check(Some(b"Basic YWxpY2U="))), "no colon");
        assert_eq!(a.bcrypt_runs(), runs + 3);
    }

    #[test]
    fn parsing_accepts_any_scheme_case_and_spacing() {
        let c = parse_basic(b"  bAsIc   YWxpY2U6cHc6eA==  ").unwrap();
        assert_eq!((c.user(), c.password()), (&b"alice"[..], &b"pw:x"[..]));
        let c = parse_basic(b"Basic Ojo=").unwrap();
        assert_eq!((c.user(), c.password()), (&b""[..], &b":"[..]));
        assert!(parse_basic(b"Basic").is_none());
    }

    #[test]
    fn bad_hashes_name_the_user() {
        let err = BasicAuth::new(&[("carol".into(), "plaintext".into())]).unwrap_err();
        assert_eq!(err.0, "carol");
        assert!(err.1.starts_with("not a bcrypt hash"), "{}", err.1);
    }
}
