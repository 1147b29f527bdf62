//! Every configuration key with its `GATEWAY_*` variable and its comment, declared once in
//! [`KEYS`]: [`apply_env`] reads the environment from this table and [`example`] writes
//! `gateway config example` from it (values are the defaults), so the two cannot diverge.
//! Two variables have no key: `GATEWAY_KEY_ENCRYPTION_KEY` (a secret, never in a file) and
//! `GATEWAY_LOG` (the log filter).

use serde_yaml::{Mapping, Value};

use super::{Config, ConfigError};

/// How a variable's text becomes the key's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Taken as it is (strings, paths, `text`/`json` style choices).
    Text,
    /// An integer.
    Number,
    /// Comma-separated; items are trimmed and empty ones dropped.
    List,
    /// `true` or `false`.
    Flag,
    /// A YAML (or JSON) value of the same shape as the key in the file.
    Yaml,
}

#[derive(Debug)]
pub struct Key {
    /// Dotted path in the YAML file, e.g. `manifest.refresh_secs`.
    pub path: &'static str,
    pub env: &'static str,
    pub kind: Kind,
    /// The comment shown above the key in the example (lines separated by `\n`).
    pub doc: &'static str,
}

/// Declares [`KEYS`]: `path => ENV (Kind): "doc";`.
macro_rules! keys {
    ($($path:literal => $env:ident ($kind:ident): $doc:literal;)*) => {
        pub const KEYS: &[Key] = &[
            $(Key { path: $path, env: stringify!($env), kind: Kind::$kind, doc: $doc },)*
        ];
    };
}

keys! {
    "listen" => GATEWAY_LISTEN (Text): "Address the HTTP listener binds.";
    "metrics_listen" => GATEWAY_METRICS_LISTEN (Text):
        "Address of the Prometheus listener (GET /metrics), kept off the public one. Empty: off.";
    "log_format" => GATEWAY_LOG_FORMAT (Text):
        "Log lines on stderr: text, or json (one object a line). The level: GATEWAY_LOG (e.g. info,\ngateway::access=warn to drop the access log).";
    "federation_name" => GATEWAY_FEDERATION_NAME (Text):
        "The federation's name, shown at the top of every web page.";
    "public_url" => GATEWAY_PUBLIC_URL (Text):
        "The issuer of tokens and the base of every URL handed out. Empty: http://<listen>.";
    "database_url" => GATEWAY_DATABASE_URL (Text):
        "sqlite://PATH (default: <data_dir>/gateway.db) or postgres://USER@HOST/DB for several replicas.";
    "data_dir" => GATEWAY_DATA_DIR (Text):
        "The default database and (with no keys.encryption_key_file) the generated kek.";
    "access_token_ttl_secs" => GATEWAY_ACCESS_TOKEN_TTL_SECS (Number):
        "Provider access token lifetime, seconds, at most 600.";
    "service_token_ttl_secs" => GATEWAY_SERVICE_TOKEN_TTL_SECS (Number):
        "Service token lifetime, seconds, at most 300.";
    "session_ttl_secs" => GATEWAY_SESSION_TTL_SECS (Number): "Sign-in session lifetime, seconds.";
    "credential_cache_ms" => GATEWAY_CREDENTIAL_CACHE_MS (Number):
        "How long a checked session or API token is trusted before asking the database again, ms.\nRevocations apply at once here and within 1 s on other replicas (the change feed); this bounds\nhow long a lost change notification goes unnoticed.";
    "key_reload_secs" => GATEWAY_KEY_RELOAD_SECS (Number):
        "How often a replica re-reads the key ring, seconds.";
    "change_resync_secs" => GATEWAY_CHANGE_RESYNC_SECS (Number):
        "The change feed's safety net: every replica re-reads everything it caches this often, seconds.";
    "key_activation_secs" => GATEWAY_KEY_ACTIVATION_SECS (Number):
        "A rotated-in key is published at once and signs this many seconds later, so providers that\nrefetch the JWKS on an unknown kid at most every 30 s always know it.";
    "trusted_proxies" => GATEWAY_TRUSTED_PROXIES (List):
        "Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For names the client; the client is\nthe first address from the right that is not one of them. Empty: the peer address is the client.";
    "server.header_read_timeout_ms" => GATEWAY_SERVER_HEADER_READ_TIMEOUT_MS (Number):
        "From accept until a request's headers are complete, TLS handshake included; on HTTP/1.1 also\nthe wait for the next request on a kept-alive connection, ms.";
    "server.idle_timeout_ms" => GATEWAY_SERVER_IDLE_TIMEOUT_MS (Number):
        "A connection with no request in flight is closed after this long, ms.";
    "server.max_connections" => GATEWAY_SERVER_MAX_CONNECTIONS (Number):
        "Open connections per listener; one more is closed at once.";
    "tls.cert" => GATEWAY_TLS_CERT (Text): "PEM certificate chain, leaf first.";
    "tls.key" => GATEWAY_TLS_KEY (Text): "PEM private key.";
    "manifest.refresh_secs" => GATEWAY_MANIFEST_REFRESH_SECS (Number):
        "Re-fetch a valid manifest this often, seconds.";
    "manifest.retry_secs" => GATEWAY_MANIFEST_RETRY_SECS (Number):
        "First retry after a failure, seconds; doubles per failure.";
    "manifest.max_backoff_secs" => GATEWAY_MANIFEST_MAX_BACKOFF_SECS (Number):
        "Longest wait between retries of a failing provider, seconds.";
    "manifest.connect_timeout_ms" => GATEWAY_MANIFEST_CONNECT_TIMEOUT_MS (Number):
        "Connecting to a provider for its manifest, ms.";
    "manifest.timeout_ms" => GATEWAY_MANIFEST_TIMEOUT_MS (Number): "Whole request including the body, ms.";
    "manifest.extra_roots" => GATEWAY_MANIFEST_EXTRA_ROOTS (List):
        "PEM CA files trusted besides the system roots (private CAs).";
    "manifest.allow_private" => GATEWAY_MANIFEST_ALLOW_PRIVATE (List):
        "Production hostnames allowed to resolve to loopback/private addresses.";
    "manifest.poll_ms" => GATEWAY_MANIFEST_POLL_MS (Number):
        "How often due manifests are looked for, milliseconds.";
    "providers.test_registration" => GATEWAY_PROVIDERS_TEST_REGISTRATION (Text):
        "Who may register a test provider (env: test; it may point at any address, loopback included):\nadmin (only admins) or owner (any signed-in user). `gateway dev` uses owner.";
    "broker.connect_timeout_ms" => GATEWAY_BROKER_CONNECT_TIMEOUT_MS (Number):
        "Connecting to a provider, milliseconds.";
    "broker.response_timeout_ms" => GATEWAY_BROKER_RESPONSE_TIMEOUT_MS (Number):
        "Until the provider's response headers arrive (bodies may stream longer), ms.";
    "broker.max_body_bytes" => GATEWAY_BROKER_MAX_BODY_BYTES (Number):
        "Largest request body forwarded, bytes (1 GiB).";
    "sign_in.max_failures" => GATEWAY_SIGN_IN_MAX_FAILURES (Number):
        "Failed sign-ins allowed per username and per client address within window_secs.";
    "sign_in.window_secs" => GATEWAY_SIGN_IN_WINDOW_SECS (Number): "The counting window, seconds.";
    "sign_in.lock_secs" => GATEWAY_SIGN_IN_LOCK_SECS (Number):
        "The first lock (429 tooManyAttempts with Retry-After), seconds; it doubles with every\nfurther failure up to max_lock_secs.";
    "sign_in.max_lock_secs" => GATEWAY_SIGN_IN_MAX_LOCK_SECS (Number): "The longest lock, seconds.";
    "keys.encryption_key_file" => GATEWAY_KEY_ENCRYPTION_KEY_FILE (Text):
        "File holding the key-encryption key (mode 0600).";
    "identity_providers" => GATEWAY_IDENTITY_PROVIDERS (Yaml):
        "OpenID Connect identity providers users sign in with (SPEC §8); the /login page offers each by its\ndisplay_name beside the password form. Endpoints and keys come from\n{issuer}/.well-known/openid-configuration; an http:// issuer is accepted only on a loopback address.\nRegister {public_url}/auth/oidc/{id}/callback as the redirect URI at the IdP. The variable holds the\nsame list as YAML or JSON, e.g. '[{\"id\":\"wayf\",…}]'. One entry:\n - id: wayf                                   # in URLs and as the principal's identityProvider\n   display_name: WAYF\n   issuer: https://wayf.example.org\n   client_id: ucloud-gateway\n   client_secret_file: /etc/gateway/wayf-secret   # the secret's first line\n   scopes: openid profile email                   # default\n   organization_claim: schac_home_organization    # default\n   assurance_claim: eduperson_assurance           # default\n   username_claim: null                           # a claim with a site username, if released\n   token_auth: client_secret_basic                # or client_secret_post";
    "agreements" => GATEWAY_AGREEMENTS (Yaml):
        "Agreements every user accepts (SPEC §9) before any API call but /api/me* and\n/api/providers/{id}/access, and before any brokered call; the web pages lead to /agreements. A new\nversion asks everyone again. Each file is read at start (plain text; a missing one stops the start).\nOne entry:\n - id: aup                                    # in the API: {\"agreement\":\"aup\",\"version\":\"…\"}\n   version: \"2026-01\"\n   title: Acceptable use policy\n   file: /etc/gateway/aup.txt";
    "accounts.auto_activate" => GATEWAY_ACCOUNTS_AUTO_ACTIVATE (Flag):
        "New identities get an active account at once (true) or wait in pendingApproval until an admin\napproves them (`gateway users approve USERNAME`, the Approvals page).";
}

/// The comment above a section (the first part of a dotted path).
const SECTIONS: &[(&str, &str)] = &[
    (
        "server",
        "What a client may hold of each listener (public and metrics).",
    ),
    (
        "tls",
        "Serve HTTPS directly (PEM files). Leave out to serve plain HTTP behind a TLS proxy.",
    ),
    ("manifest", "How provider manifests are fetched and cached."),
    ("providers", "Who may register which providers."),
    ("broker", "How user requests are forwarded to providers."),
    (
        "sign_in",
        "Failed sign-ins are counted per username and per client address, shared by all replicas.",
    ),
    (
        "keys",
        "The key-encryption key (32 random bytes, standard base64, e.g. `openssl rand -base64 32`) seals the\nprivate signing keys in the database with AES-256-GCM. GATEWAY_KEY_ENCRYPTION_KEY (the key itself)\nwins over the file. With neither, {data_dir}/keys/kek is generated on first run (mode 0600): fine\nfor one process; replicas on one PostgreSQL must all be given the same key. A replica with the wrong\nkey refuses to start.",
    ),
];

/// Sets every key whose variable `env` holds over `config`, checking each so an error names it.
pub fn apply_env(
    config: Config,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut tree = serde_yaml::to_value(&config)
        .map_err(|e| ConfigError::Invalid(format!("configuration: {e}")))?;
    let mut changed = false;
    for key in KEYS {
        let Some(text) = env(key.env) else { continue };
        let value = match key.kind {
            Kind::Text => Value::String(text),
            Kind::Number => {
                let n: i64 = text
                    .trim()
                    .parse()
                    .map_err(|e| ConfigError::Env(key.env, format!("{e}")))?;
                Value::Number(n.into())
            }
            Kind::List => Value::Sequence(
                text.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| Value::String(item.to_owned()))
                    .collect(),
            ),
            Kind::Flag => Value::Bool(
                text.trim()
                    .parse()
                    .map_err(|_| ConfigError::Env(key.env, "expected true or false".into()))?,
            ),
            Kind::Yaml => {
                serde_yaml::from_str(&text).map_err(|e| ConfigError::Env(key.env, e.to_string()))?
            }
        };
        set(&mut tree, key.path, value);
        // Keys read together (tls.cert with tls.key) are checked once both are set.
        let pending_partner = key.path.starts_with("tls.")
            && KEYS
                .iter()
                .filter(|k| k.path.starts_with("tls.") && k.path != key.path)
                .any(|k| env(k.env).is_some() && get(&tree, k.path).is_none());
        if !pending_partner {
            serde_yaml::from_value::<Config>(tree.clone())
                .map_err(|e| ConfigError::Env(key.env, e.to_string()))?;
        }
        changed = true;
    }
    if !changed {
        return Ok(config);
    }
    let mut merged: Config = serde_yaml::from_value(tree)
        .map_err(|e| ConfigError::Invalid(format!("environment: {e}")))?;
    merged.keys.encryption_key = config.keys.encryption_key;
    Ok(merged)
}

fn get<'a>(tree: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(tree, |node, part| node.get(part))
        .filter(|v| !v.is_null())
}

/// Puts `value` at the dotted `path`, making (or replacing a null with) mappings on the way.
fn set(tree: &mut Value, path: &str, value: Value) {
    let mut node = tree;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if !node.is_mapping() {
            *node = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(map) = node else { return };
        if parts.peek().is_none() {
            map.insert(Value::String(part.to_owned()), value);
            return;
        }
        node = map
            .entry(Value::String(part.to_owned()))
            .or_insert(Value::Null);
    }
}

/// `gateway config example`: every key with its comment, its variable and its default. A section
/// whose default is absent (`tls`) is shown commented out.
pub fn example() -> String {
    let defaults = serde_yaml::to_value(Config::default()).unwrap_or(Value::Null);
    let mut out = String::from(
        "# Gateway configuration. Every key can be overridden by the environment variable named above it\n\
         # (lists: comma-separated). GATEWAY_KEY_ENCRYPTION_KEY (see keys) and GATEWAY_LOG are variables only.\n",
    );
    let mut section: Option<&str> = None;
    for key in KEYS {
        let (parent, name) = match key.path.split_once('.') {
            Some((parent, name)) => (Some(parent), name),
            None => (None, key.path),
        };
        let absent = parent.is_some_and(|p| get(&defaults, p).is_none());
        let (indent, hash) = match (parent, absent) {
            (None, _) => ("", ""),
            (Some(_), false) => ("  ", ""),
            (Some(_), true) => ("  ", "# "),
        };
        if parent != section {
            if let Some(p) = parent {
                out.push('\n');
                if let Some((_, doc)) = SECTIONS.iter().find(|(s, _)| *s == p) {
                    for line in doc.lines() {
                        out.push_str(&format!("# {line}\n"));
                    }
                }
                out.push_str(&format!("{hash}{p}:\n"));
            }
            section = parent;
        }
        for line in key.doc.lines() {
            out.push_str(&format!("{hash}{indent}# {line}\n"));
        }
        out.push_str(&format!("{hash}{indent}#   {}\n", key.env));
        let value = if absent {
            Value::String(format!("<{name}>"))
        } else {
            get(&defaults, key.path).cloned().unwrap_or(Value::Null)
        };
        let rendered = serde_yaml::to_string(&value).unwrap_or_default();
        out.push_str(&format!("{hash}{indent}{name}: {}\n", rendered.trim_end()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dotted paths of every value that is not a mapping.
    fn leaves(tree: &Value, prefix: &str, out: &mut Vec<String>) {
        match tree {
            Value::Mapping(map) => {
                for (k, v) in map {
                    let k = k.as_str().expect("string keys");
                    let path = if prefix.is_empty() {
                        k.to_owned()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaves(v, &path, out);
                }
            }
            _ => out.push(prefix.to_owned()),
        }
    }

    /// A value other than the default for `key`, as its variable's text and as the YAML it becomes.
    fn sample(key: &Key, default: &Value) -> (String, Value) {
        let text = |t: &str| (t.to_owned(), Value::String(t.to_owned()));
        let list = |t: &str| {
            (
                t.to_owned(),
                Value::Sequence(vec![Value::String(t.to_owned())]),
            )
        };
        match (key.kind, key.path) {
            (Kind::Number, _) => {
                let n = default.as_i64().expect("a number") - 1;
                (n.to_string(), Value::Number(n.into()))
            }
            (Kind::Text, "listen") => text("0.0.0.0:9999"),
            (Kind::Text, "metrics_listen") => text(""),
            (Kind::Text, "log_format") => text("json"),
            (Kind::Text, "federation_name") => text("Nordic Research Cloud"),
            (Kind::Text, "public_url") => text("https://gw.example"),
            (Kind::Text, "database_url") => text("postgres://db.example/gw"),
            (Kind::Text, "data_dir") => text("/var/lib/gateway"),
            (Kind::Text, "tls.cert") => text("/etc/gateway/cert.pem"),
            (Kind::Text, "tls.key") => text("/etc/gateway/key.pem"),
            (Kind::Text, "providers.test_registration") => text("owner"),
            (Kind::Text, "keys.encryption_key_file") => text("/run/secrets/kek"),
            (Kind::List, "trusted_proxies") => list("10.0.0.0/8"),
            (Kind::Flag, _) => {
                let flag = !default.as_bool().expect("a flag");
                (flag.to_string(), Value::Bool(flag))
            }
            (Kind::Yaml, "identity_providers") => {
                let text = r#"[{"id":"wayf","display_name":"WAYF","issuer":"https://wayf.example.org","client_id":"gw","client_secret_file":"/etc/gw/secret","scopes":"openid profile email","organization_claim":"schac_home_organization","assurance_claim":"eduperson_assurance","username_claim":null,"token_auth":"client_secret_basic"}]"#;
                (text.to_owned(), serde_yaml::from_str(text).expect("yaml"))
            }
            (Kind::Yaml, "agreements") => {
                let text = r#"[{"id":"aup","version":"1","title":"AUP","file":"/etc/gw/aup.txt"}]"#;
                (text.to_owned(), serde_yaml::from_str(text).expect("yaml"))
            }
            (Kind::List, "manifest.extra_roots") => list("/etc/gateway/ca.pem"),
            (Kind::List, "manifest.allow_private") => list("provider.internal"),
            (_, path) => panic!("give {path} a sample value in this test"),
        }
    }

    #[test]
    fn the_example_is_the_defaults_and_every_key_in_it_is_settable_by_its_variable() {
        let defaults = serde_yaml::to_value(Config::default()).unwrap();
        let parsed: Config = serde_yaml::from_str(&example()).unwrap();
        assert_eq!(serde_yaml::to_value(parsed).unwrap(), defaults);

        let mut paths = Vec::new();
        leaves(&serde_yaml::from_str(&example()).unwrap(), "", &mut paths);
        leaves(&defaults, "", &mut paths);
        for path in &paths {
            assert!(
                KEYS.iter()
                    .any(|k| k.path == *path || k.path.starts_with(&format!("{path}."))),
                "{path} has no variable in KEYS"
            );
        }
        for key in KEYS {
            assert!(
                example().contains(&format!("{}\n", key.env)),
                "{} is named in the example",
                key.env
            );
            // tls.cert and tls.key are read together.
            let together: Vec<&Key> = if key.path.starts_with("tls.") {
                KEYS.iter().filter(|k| k.path.starts_with("tls.")).collect()
            } else {
                vec![key]
            };
            let samples: Vec<(&Key, String, Value)> = together
                .iter()
                .map(|k| {
                    let default = get(&defaults, k.path).cloned().unwrap_or(Value::Null);
                    let (text, value) = sample(k, &default);
                    assert_ne!(
                        value, default,
                        "{}: the sample differs from the default",
                        k.path
                    );
                    (*k, text, value)
                })
                .collect();
            let config = Config::load(None, |name| {
                samples
                    .iter()
                    .find(|(k, _, _)| k.env == name)
                    .map(|(_, text, _)| text.clone())
            })
            .unwrap_or_else(|e| panic!("{}: {e}", key.env));
            let tree = serde_yaml::to_value(config).unwrap();
            for (k, _, value) in &samples {
                assert_eq!(get(&tree, k.path), Some(value), "{} sets {}", k.env, k.path);
            }
        }
    }

    #[test]
    fn a_bad_variable_is_named_in_the_error() {
        for (name, text) in [
            ("GATEWAY_SESSION_TTL_SECS", "soon"),
            ("GATEWAY_LOG_FORMAT", "xml"),
            ("GATEWAY_BROKER_MAX_BODY_BYTES", "-1"),
            ("GATEWAY_TLS_CERT", "/only/the/cert.pem"),
        ] {
            let err = Config::load(None, |k| (k == name).then(|| text.to_owned()))
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(err.contains(name), "{name}: {err}");
        }
    }
}
