//! The config file (`--config-file` / `PBS_CONFIG_FILE`, YAML): modules in the style of
//! pve-exporter's and snmp_exporter's, each with its own credentials, options and allow-list
//! of targets. Read into our own structs; an unknown key, a missing token, an unreadable token
//! file, a malformed fingerprint or duration, or a wildcard spanning dots is an error naming
//! the module and the key. Token secrets are read from their files here, so a reload (SIGHUP)
//! picks up a rotated token.

use crate::collectors::CollectorId;
use crate::config::{Secret, parse_collectors, parse_duration, read_secret_file};
use crate::target::{Pattern, Target};
use crate::tls::{Trust, parse_fingerprint};
use std::path::{Path, PathBuf};
use std::time::Duration;
use yaml_rust2::{Yaml, YamlLoader};

/// The module a request without `module=` uses.
pub const DEFAULT_MODULE: &str = "default";

/// Largest config file read.
const MAX_FILE: u64 = 1 << 20;

/// One allow-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    /// Scheme, host pattern and port.
    pub pattern: Pattern,
    /// The certificate fingerprint pinned for the targets this entry allows.
    pub fingerprint: Option<[u8; 32]>,
}

/// A module: credentials, options and the targets the token may be sent to.
#[derive(Debug, Clone)]
pub struct Module {
    /// The module's name (`module=`).
    pub name: String,
    /// `user@realm!name`.
    pub token_id: String,
    /// The token secret.
    pub secret: Secret,
    /// Timeout of each PBS request (`None`: the exporter's `--timeout`).
    pub timeout: Option<Duration>,
    /// Collectors to run (`None`: the exporter's `--collectors`).
    pub collectors: Option<Vec<CollectorId>>,
    /// CA file trusted for targets without a fingerprint.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate for targets without a fingerprint.
    pub insecure: bool,
    /// The allow-list.
    pub targets: Vec<AllowEntry>,
}

impl Module {
    /// The first entry that allows `target`.
    pub fn allowing(&self, target: &Target) -> Option<&AllowEntry> {
        self.targets.iter().find(|e| e.pattern.allows(target))
    }

    /// How the certificate of a target allowed by `entry` is trusted.
    pub fn trust(&self, entry: &AllowEntry) -> Trust {
        match (&entry.fingerprint, &self.ca_file) {
            (Some(fp), _) => Trust::Fingerprint(*fp),
            (None, Some(ca)) => Trust::CaFile(ca.clone()),
            (None, None) if self.insecure => Trust::Insecure,
            (None, None) => Trust::System,
        }
    }
}

/// The modules of a config file.
#[derive(Debug, Clone, Default)]
pub struct Modules {
    /// In file order.
    pub modules: Vec<Module>,
}

impl Modules {
    /// The module called `name`.
    pub fn get(&self, name: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.name == name)
    }

    /// The module names, for messages.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.modules.iter().map(|m| m.name.as_str()).collect();
        names.join(", ")
    }

    /// Reads and validates the file at `path` (token files included).
    pub fn load(path: &Path) -> Result<Modules, String> {
        use std::io::Read;
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_FILE + 1).read_to_string(&mut text))
            .map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
        if text.len() as u64 > MAX_FILE {
            return Err(format!(
                "'{}' is larger than {MAX_FILE} bytes",
                path.display()
            ));
        }
        Modules::parse(&text)
    }

    /// Parses and validates a config file's text.
    pub fn parse(text: &str) -> Result<Modules, String> {
        let docs = YamlLoader::load_from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
        let root = match docs.as_slice() {
            [] => return Err("empty: it needs 'modules:'".into()),
            [root] => root,
            _ => return Err("more than one YAML document".into()),
        };
        let root = root
            .as_hash()
            .ok_or("the top level must be a mapping with the key 'modules'")?;
        let mut modules = None;
        for (k, v) in root {
            match k.as_str() {
                Some("modules") => modules = Some(v),
                _ => {
                    return Err(format!(
                        "key '{}': unknown top-level key (known: modules)",
                        key_text(k)
                    ));
                }
            }
        }
        let modules = modules
            .and_then(Yaml::as_hash)
            .ok_or("key 'modules': must be a mapping of module names to modules")?;
        let mut out = Modules::default();
        for (name, body) in modules {
            let name = name.as_str().filter(|n| !n.is_empty()).ok_or_else(|| {
                format!("module '{}': a module name must be text", key_text(name))
            })?;
            out.modules.push(parse_module(name, body)?);
        }
        if out.modules.is_empty() {
            return Err("key 'modules': no module defined".into());
        }
        Ok(out)
    }
}

/// The keys a module may have.
const MODULE_KEYS: &str = "token_id, username, token_name, token_file, token, timeout, collectors, ca_file, insecure, targets";

fn parse_module(name: &str, body: &Yaml) -> Result<Module, String> {
    let err = |key: &str, msg: String| format!("module '{name}', key '{key}': {msg}");
    let body = body
        .as_hash()
        .ok_or_else(|| format!("module '{name}': must be a mapping ({MODULE_KEYS})"))?;
    let mut token_id = None;
    let mut username = None;
    let mut token_name = None;
    let mut token_file = None;
    let mut token = None;
    let mut timeout = None;
    let mut collectors = None;
    let mut ca_file = None;
    let mut insecure = false;
    let mut targets = Vec::new();
    for (k, v) in body {
        let key = k.as_str().unwrap_or("");
        let text = || scalar(v).ok_or_else(|| err(key, "must be a single value".into()));
        match key {
            "token_id" => token_id = Some(text()?),
            "username" => username = Some(text()?),
            "token_name" => token_name = Some(text()?),
            "token_file" => token_file = Some(text()?),
            "token" => token = Some(text()?),
            "timeout" => timeout = Some(parse_duration(&text()?).map_err(|e| err(key, e))?),
            "collectors" => {
                let list = match v {
                    Yaml::Array(items) => {
                        let names: Option<Vec<String>> = items.iter().map(scalar).collect();
                        names
                            .ok_or_else(|| err(key, "must be a list of names".into()))?
                            .join(",")
                    }
                    _ => text()?,
                };
                collectors = Some(parse_collectors(&list).map_err(|e| err(key, e))?);
            }
            "ca_file" => ca_file = Some(PathBuf::from(text()?)),
            "insecure" => {
                insecure = v
                    .as_bool()
                    .ok_or_else(|| err(key, "must be true or false".into()))?
            }
            "targets" => {
                let items = v
                    .as_vec()
                    .ok_or_else(|| err(key, "must be a list of {target, fingerprint}".into()))?;
                for (i, item) in items.iter().enumerate() {
                    targets.push(
                        parse_entry(item).map_err(|(k, e)| err(&format!("targets[{i}]{k}"), e))?,
                    );
                }
            }
            _ => {
                return Err(err(
                    &key_text(k),
                    format!("unknown key (known: {MODULE_KEYS})"),
                ));
            }
        }
    }
    let token_id = match (token_id, username, token_name) {
        (Some(id), None, None) => id,
        (None, Some(user), Some(name)) => format!("{user}!{name}"),
        (None, None, Some(name)) if name.contains('!') => name,
        (Some(_), _, _) => {
            return Err(err(
                "token_id",
                "give either token_id or username + token_name, not both".into(),
            ));
        }
        _ => {
            return Err(err(
                "token_id",
                "missing: give token_id (user@realm!name) or username + token_name".into(),
            ));
        }
    };
    let (user, tname) = token_id.split_once('!').unwrap_or((&token_id, ""));
    if !user.contains('@') || tname.is_empty() || token_id.contains([':', '\r', '\n', ' ']) {
        return Err(err(
            "token_id",
            format!("'{token_id}' is not user@realm!name"),
        ));
    }
    let secret = match (token_file, token) {
        (Some(path), None) => read_secret_file(&path).map_err(|e| err("token_file", e))?,
        (None, Some(t)) if !t.is_empty() && !t.contains(['\r', '\n']) => t,
        (None, Some(_)) => return Err(err("token", "empty or contains a line break".into())),
        (Some(_), Some(_)) => {
            return Err(err(
                "token",
                "give either token_file or token, not both".into(),
            ));
        }
        (None, None) => {
            return Err(err(
                "token_file",
                "missing: give token_file (or token)".into(),
            ));
        }
    };
    if targets.is_empty() {
        return Err(err(
            "targets",
            "missing or empty: list the PBS this module's token may be sent to".into(),
        ));
    }
    Ok(Module {
        name: name.to_string(),
        token_id,
        secret: Secret::new(secret),
        timeout,
        collectors,
        ca_file,
        insecure,
        targets,
    })
}

/// One `targets` item; an error carries the sub-key (`.target`, `.fingerprint`).
fn parse_entry(item: &Yaml) -> Result<AllowEntry, (String, String)> {
    let item = match item {
        // A bare string is a target without fingerprint.
        Yaml::String(_) => {
            let t = scalar(item).unwrap_or_default();
            let pattern = Pattern::parse(&t).map_err(|e| (String::new(), e))?;
            return Ok(AllowEntry {
                pattern,
                fingerprint: None,
            });
        }
        Yaml::Hash(h) => h,
        _ => return Err((String::new(), "must be {target, fingerprint}".into())),
    };
    let mut pattern = None;
    let mut fingerprint = None;
    for (k, v) in item {
        let key = k.as_str().unwrap_or("");
        let sub = format!(".{}", key_text(k));
        let text = scalar(v).ok_or_else(|| (sub.clone(), "must be a single value".into()));
        match key {
            "target" => pattern = Some(Pattern::parse(&text?).map_err(|e| (sub, e))?),
            "fingerprint" => fingerprint = Some(parse_fingerprint(&text?).map_err(|e| (sub, e))?),
            _ => return Err((sub, "unknown key (known: target, fingerprint)".into())),
        }
    }
    Ok(AllowEntry {
        pattern: pattern.ok_or((".target".into(), "missing".into()))?,
        fingerprint,
    })
}

/// A scalar as text (`10s`, `10`, `true`).
fn scalar(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A key for a message, bounded so a hostile file cannot make a huge line.
fn key_text(k: &Yaml) -> String {
    let s = scalar(k).unwrap_or_else(|| "(not text)".into());
    crate::exposition::truncate_utf8(&s, 64).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

    #[test]
    fn the_readme_example_parses() {
        let text = format!(
            r#"
modules:
  default:
    token_id: "monitor@pbs!exporter"
    token: "s3cr3t"
    timeout: 10s
    collectors: [node, datastore, groups, snapshots]
    ca_file: /etc/pbs/ca.pem
    insecure: false
    targets:
      - target: pbs1.example.com
        fingerprint: "{FP}"
      - target: "https://pbs2.example.com:8007"
      - target: "*.lab.example.com"
  lab:
    username: monitor@pbs
    token_name: lab
    token: other
    targets: ["http://10.0.0.5:8007"]
"#
        );
        let m = Modules::parse(&text).unwrap();
        assert_eq!(m.names(), "default, lab");
        let d = m.get("default").unwrap();
        assert_eq!(d.token_id, "monitor@pbs!exporter");
        assert_eq!(d.secret.expose(), "s3cr3t");
        assert_eq!(d.timeout, Some(Duration::from_secs(10)));
        assert_eq!(d.targets.len(), 3);
        let t = Target::parse("https://PBS1.example.com:8007").unwrap();
        let e = d.allowing(&t).unwrap();
        assert!(matches!(d.trust(e), Trust::Fingerprint(fp) if fp[0] == 0xab));
        let lab = Target::parse("x.lab.example.com").unwrap();
        assert!(matches!(
            d.trust(d.allowing(&lab).unwrap()),
            Trust::CaFile(_)
        ));
        assert!(
            d.allowing(&Target::parse("evil.example.com").unwrap())
                .is_none()
        );
        let l = m.get("lab").unwrap();
        assert_eq!(l.token_id, "monitor@pbs!lab");
        assert!(!l.targets[0].pattern.tls);
        assert!(!format!("{m:?}").contains("s3cr3t"));
    }

    #[test]
    fn errors_name_the_module_and_the_key() {
        let base = "modules:\n  m1:\n    token_id: a@pbs!t\n    token: x\n    targets: [pbs1]\n";
        for (extra, want) in [
            ("    tokn: x\n", "module 'm1', key 'tokn': unknown key"),
            ("    timeout: soon\n", "module 'm1', key 'timeout'"),
            ("    insecure: maybe\n", "module 'm1', key 'insecure'"),
            ("    collectors: [nodes]\n", "module 'm1', key 'collectors'"),
        ] {
            let e = Modules::parse(&format!("{base}{extra}")).unwrap_err();
            assert!(e.starts_with(want), "{e}");
        }
        for (text, want) in [
            (
                "modules:\n  m2:\n    token_id: a@pbs!t\n    targets: [pbs1]\n",
                "module 'm2', key 'token_file': missing",
            ),
            (
                "modules:\n  m2:\n    token_id: a@pbs!t\n    token_file: /nonexistent/t\n    targets: [pbs1]\n",
                "module 'm2', key 'token_file': cannot read '/nonexistent/t'",
            ),
            (
                "modules:\n  m2:\n    token_id: a@pbs!t\n    token: x\n    targets:\n      - target: pbs1\n        fingerprint: ab:cd\n",
                "module 'm2', key 'targets[0].fingerprint'",
            ),
            (
                "modules:\n  m2:\n    token_id: a@pbs!t\n    token: x\n    targets:\n      - target: pbs1\n      - target: '*x.example.com'\n",
                "module 'm2', key 'targets[1].target': '*x.example.com': '*' must be a whole DNS label",
            ),
            (
                "modules:\n  m2:\n    token: x\n    targets: [pbs1]\n",
                "module 'm2', key 'token_id': missing",
            ),
            (
                "modules:\n  m2:\n    token_id: a@pbs!t\n    token: x\n",
                "module 'm2', key 'targets': missing",
            ),
            ("modules: {}\n", "key 'modules': no module"),
            ("module:\n  a: {}\n", "key 'module': unknown top-level key"),
            ("modules: [\n", "not valid YAML"),
        ] {
            let e = Modules::parse(text).unwrap_err();
            assert!(e.starts_with(want), "{e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }
}
