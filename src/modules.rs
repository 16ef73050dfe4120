//! The config file (`--config-file` / `PBS_CONFIG_FILE`, YAML): modules in the style of
//! pve-exporter's and snmp_exporter's, each with its own credentials, options and allow-list
//! of targets. Read into our own structs; an unknown key, a missing token, an unreadable token
//! file, a malformed fingerprint or duration, or a wildcard spanning dots is an error naming
//! the module and the key. Token secrets are read from their files here, so a reload (SIGHUP)
//! picks up a rotated token. The YAML itself is read by `yaml.rs`, the one strict reader.

use crate::collectors::CollectorId;
use crate::config::{
    MAX_KEEP_LAST_VALUES, Secret, parse_collectors, parse_duration, parse_duration_within,
    read_secret_file,
};
use crate::target::{Pattern, Target};
use crate::tls::{Trust, parse_fingerprint};
use crate::yaml::{self, Node, YamlError};
use std::path::{Path, PathBuf};
use std::time::Duration;
use yaml_rust2::Yaml;

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
    /// How long the last good values are served while a target is unreachable (`None`: the
    /// exporter's `--keep-last-values`).
    pub keep_last_values: Option<Duration>,
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

    /// Parses and validates a config file's text, reading token files from disk.
    pub fn parse(text: &str) -> Result<Modules, String> {
        Modules::parse_with(text, &read_secret_file)
    }

    /// Parses and validates a config file's text; `read_token` reads a `token_file` (a test or
    /// fuzz target passes one that touches no file). An error is one line naming the module
    /// and the key, at most about 512 bytes.
    pub fn parse_with(
        text: &str,
        read_token: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<Modules, String> {
        // Messages may quote values from the file: kept on one line and bounded.
        parse_modules(text, read_token).map_err(|e| yaml::one_line(&e, MAX_ERROR))
    }
}

fn parse_modules(
    text: &str,
    read_token: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Modules, String> {
    // A syntax error says where: `line N column M: invalid YAML: ...`.
    let doc = yaml::parse(text).map_err(|e| e.to_string())?;
    let root = Node::root(&doc)
        .map(&["modules"])
        .map_err(|e| at(None, e))?;
    let modules = root
        .get("modules")
        .ok_or("key 'modules': missing: the file needs 'modules:' with at least one module")?
        .entries()
        .map_err(|e| at(None, e))?;
    let mut out = Modules::default();
    for (name, body) in modules {
        if name.is_empty() {
            return Err("key 'modules': a module name must not be empty".into());
        }
        // Paths in messages are relative to the module, which the message names.
        out.modules
            .push(parse_module(name, &Node::root(body.yaml), read_token)?);
    }
    if out.modules.is_empty() {
        return Err("key 'modules': no module defined".into());
    }
    Ok(out)
}

/// Longest error message: one that quotes a long value from the file is cut there.
const MAX_ERROR: usize = 512;

/// A config file error as one line naming the module (when in one) and the key.
fn at(module: Option<&str>, e: YamlError) -> String {
    let module = module.map(yaml::shown);
    let module = module.as_deref();
    match (module, e.path.is_empty()) {
        (Some(m), true) => format!("module '{m}': {}", e.message),
        (Some(m), false) => format!("module '{m}', key '{}': {}", e.path, e.message),
        // The document itself (not a mapping, or a syntax error without a position).
        (None, true) => format!("the file: {}", e.message),
        (None, false) => format!("key '{}': {}", e.path, e.message),
    }
}

/// The keys a module may have.
const MODULE_KEYS: &[&str] = &[
    "token_id",
    "username",
    "token_name",
    "token_file",
    "token",
    "timeout",
    "collectors",
    "keep_last_values",
    "ca_file",
    "insecure",
    "targets",
];

fn parse_module(
    name: &str,
    body: &Node<'_>,
    read_token: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Module, String> {
    let shown = yaml::shown(name);
    let err = |key: &str, msg: String| format!("module '{shown}', key '{key}': {msg}");
    let yerr = |e: YamlError| at(Some(name), e);
    let body = body.map(MODULE_KEYS).map_err(yerr)?;
    let text = |key: &str| body.text(key).map_err(yerr);
    let (token_id, username, token_name) =
        (text("token_id")?, text("username")?, text("token_name")?);
    let (token_file, token) = (text("token_file")?, text("token")?);
    let timeout = match body.get("timeout") {
        Some(node) => {
            Some(parse_duration(&node.text().map_err(yerr)?).map_err(|e| yerr(node.error(e)))?)
        }
        None => None,
    };
    let collectors = match body.get("collectors") {
        Some(node) => {
            let list = match node.yaml {
                Yaml::Array(_) => {
                    let names: Result<Vec<String>, _> =
                        node.list().map_err(yerr)?.iter().map(Node::text).collect();
                    names.map_err(yerr)?.join(",")
                }
                _ => node.text().map_err(yerr)?,
            };
            Some(parse_collectors(&list).map_err(|e| yerr(node.error(e)))?)
        }
        None => None,
    };
    let keep_last_values = match body.get("keep_last_values") {
        Some(node) => Some(
            parse_duration_within(&node.text().map_err(yerr)?, MAX_KEEP_LAST_VALUES)
                .map_err(|e| yerr(node.error(e)))?,
        ),
        None => None,
    };
    let ca_file = text("ca_file")?.map(PathBuf::from);
    let insecure = body.bool("insecure").map_err(yerr)?.unwrap_or(false);
    let mut targets = Vec::new();
    if let Some(list) = body.get("targets") {
        for item in list.list().map_err(yerr)? {
            targets.push(parse_entry(&item).map_err(yerr)?);
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
        (Some(path), None) => read_token(&path).map_err(|e| err("token_file", e))?,
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
        keep_last_values,
        ca_file,
        insecure,
        targets,
    })
}

/// One `targets` item: a target, or `{target, fingerprint}`.
fn parse_entry(item: &Node<'_>) -> Result<AllowEntry, YamlError> {
    // A bare string is a target without fingerprint.
    if let Yaml::String(t) = item.yaml {
        let pattern = Pattern::parse(t).map_err(|e| item.error(e))?;
        return Ok(AllowEntry {
            pattern,
            fingerprint: None,
        });
    }
    let map = item.map(&["target", "fingerprint"])?;
    let target = map
        .get("target")
        .ok_or_else(|| item.error("'target' is required"))?;
    let pattern = Pattern::parse(&target.text()?).map_err(|e| target.error(e))?;
    let fingerprint = match map.get("fingerprint") {
        Some(node) => Some(parse_fingerprint(&node.text()?).map_err(|e| node.error(e))?),
        None => None,
    };
    Ok(AllowEntry {
        pattern,
        fingerprint,
    })
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
    keep_last_values: 12h
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
        assert_eq!(d.keep_last_values, Some(Duration::from_secs(12 * 3600)));
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
            (
                "    keep_last_values: 0s\n",
                "module 'm1', key 'keep_last_values'",
            ),
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
            (
                "module:\n  a: {}\n",
                "key 'module': unknown key 'module' (expected one of: modules)",
            ),
            (
                "modules:\n  m3:\n    token_id: a@pbs!t\n    token: x\n    targets: [{target: pbs1, fp: x}]\n",
                "module 'm3', key 'targets[0].fp': unknown key 'fp'",
            ),
            (
                "modules:\n  m3:\n    token_id: a@pbs!t\n    token: x\n    insecure: 1\n    targets: [pbs1]\n",
                "module 'm3', key 'insecure': expected true or false",
            ),
            (
                "modules:\n  m3: [x]\n",
                "module 'm3': expected a mapping, got a list",
            ),
            ("modules: [\n", "line 2 column 1: invalid YAML"),
            ("just text\n", "the file: expected a mapping, got a string"),
            (
                "modules:\n  \"m\\n1\":\n    tokn: x\n",
                "module 'm\\n1', key 'tokn': unknown key",
            ),
            (
                "modules:\n  m4:\n    token_id: \"a\\nb@pbs!t\"\n    token: x\n    targets: [pbs1]\n",
                "module 'm4', key 'token_id': 'a\\nb@pbs!t' is not user@realm!name",
            ),
        ] {
            let e = Modules::parse(text).unwrap_err();
            assert!(e.starts_with(want), "{e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }
}
