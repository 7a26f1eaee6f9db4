//! Loading and checking the configuration, reporting every problem at once.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::de::DeserializeOwned;

use super::Config;

/// One problem in a configuration file: the key it concerns and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key, as `[section] key` (or `[section]` for a whole section).
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Every problem found in a configuration file.
#[derive(Debug, Clone)]
pub struct ConfigError {
    /// The file that was read.
    pub path: String,
    /// The problems, in file order where known.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{}: {n} problem{}:",
            self.path,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            // A syntax error's snippet spans lines: indent them under the key.
            writeln!(f, "  {}: {}", p.key, p.message.replace('\n', "\n    "))?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Reads and checks a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let err = |message: String| ConfigError {
        path: path.display().to_string(),
        problems: vec![Problem {
            key: "(file)".into(),
            message,
        }],
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        err(format!(
            "cannot read the file: {e}; pass --config FILE or set CERTMAIL_CONFIG"
        ))
    })?;
    check(&text).map_err(|problems| ConfigError {
        path: path.display().to_string(),
        problems,
    })
}

/// Parses and checks configuration text, collecting every problem: bad keys and unknown
/// sections are set aside (their defaults stand in) so the values and files are checked in
/// the same run.
pub fn check(text: &str) -> Result<Config, Vec<Problem>> {
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        vec![Problem {
            key: "(syntax)".into(),
            // The snippet is a few lines with a caret under the mistake: keep its lines.
            message: e.to_string().trim().to_string(),
        }]
    })?;
    let mut problems = Vec::new();
    table.retain(|name, value| section(name, value, &mut problems));
    // A missing [pki] is one problem; the rest of the file is still checked.
    let pki_missing = !table.contains_key("pki");
    if pki_missing {
        let mut placeholder = toml::Table::new();
        placeholder.insert("certs_dir".into(), toml::Value::String(String::new()));
        placeholder.insert("crl_dir".into(), toml::Value::String(String::new()));
        table.insert("pki".into(), toml::Value::Table(placeholder));
    }
    let config: Config = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| {
            let mut all = problems.clone();
            all.push(Problem {
                key: "[pki]".into(),
                message: e.message().to_string(),
            });
            all
        })?;
    validate(&config, &mut problems);
    if pki_missing {
        problems.retain(|p| !p.key.starts_with("[pki]"));
        problems.push(Problem {
            key: "[pki]".into(),
            message:
                "missing: add a [pki] section with certs_dir (CA certificates) and crl_dir (CRLs)"
                    .into(),
        });
    }
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(problems)
    }
}

/// Checks one top-level entry key by key, dropping the keys it reports; false (drop the
/// whole entry) for an unknown section or a plain value.
fn section(name: &str, value: &mut toml::Value, problems: &mut Vec<Problem>) -> bool {
    let Some(sub) = value.as_table_mut() else {
        let name = toml_key(name);
        problems.push(Problem {
            key: name.clone(),
            message: format!("expected a section `[{name}]`, found a plain value"),
        });
        return false;
    };
    match name {
        "server" => keys::<super::ServerSection>(name, sub, problems),
        "tls" => keys::<super::TlsSection>(name, sub, problems),
        "pki" => keys::<certmail_pki::PkiConfig>(name, sub, problems),
        "limits" => keys::<super::LimitsSection>(name, sub, problems),
        "imap" => keys::<super::ImapSection>(name, sub, problems),
        "smtp" => keys::<super::SmtpSection>(name, sub, problems),
        "http" => keys::<super::HttpSection>(name, sub, problems),
        "auth" => keys::<super::AuthSection>(name, sub, problems),
        "crl_fetch" => keys::<crate::crl_fetch::CrlFetchSection>(name, sub, problems),
        "mailauth" => keys::<super::MailAuthSection>(name, sub, problems),
        "relay" => keys::<super::RelaySection>(name, sub, problems),
        "spam" => keys::<super::SpamSection>(name, sub, problems),
        "store" => keys::<super::StoreSection>(name, sub, problems),
        "cluster" => keys::<super::ClusterSection>(name, sub, problems),
        "web" => keys::<certmail_web::WebConfig>(name, sub, problems),
        "sieve" => keys::<super::SieveSection>(name, sub, problems),
        other => {
            problems.push(Problem {
                key: format!("[{}]", toml_key(other)),
                message:
                    "unknown section; known sections are server, tls, pki, limits, imap, smtp, auth, http, crl_fetch, mailauth, relay, spam, store, cluster, web, sieve"
                        .into(),
            });
            return false;
        }
    }
    true
}

/// `name` as it is written in TOML: bare when it can be (`log_level`), else quoted (`""`,
/// `"two words"`), so a problem always names a key the user can find in the file.
fn toml_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_string()
    } else {
        toml::Value::String(name.to_string()).to_string()
    }
}

/// Deserialises each key of a section on its own, so that every bad key is reported, and
/// removes the bad ones so the rest of the file can still be checked.
fn keys<T: DeserializeOwned>(section: &str, table: &mut toml::Table, problems: &mut Vec<Problem>) {
    table.retain(|key, value| {
        let mut one = toml::Table::new();
        one.insert(key.to_string(), value.clone());
        let Err(e) = toml::Value::Table(one).try_into::<T>() else {
            return true;
        };
        // Required keys of the section are reported once, when the whole file is read.
        if e.message().starts_with("missing field") {
            return true;
        }
        let message = if e.message().starts_with("unknown field") {
            e.message().to_string()
        } else {
            // "invalid socket address syntax" alone does not say which entry is wrong.
            format!("{}: {}", shown::<T>(key, value), e.message())
        };
        problems.push(Problem {
            key: format!("[{section}] {}", toml_key(key)),
            message,
        });
        false
    });
}

/// The value a key's type error is about, quoted: for a list, the entries that fail alone.
fn shown<T: DeserializeOwned>(key: &str, value: &toml::Value) -> String {
    let quote = |v: &toml::Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    let Some(list) = value.as_array() else {
        return format!("`{}`", quote(value));
    };
    let fails = |v: &toml::Value| {
        let mut one = toml::Table::new();
        one.insert(key.to_string(), toml::Value::Array(vec![v.clone()]));
        toml::Value::Table(one).try_into::<T>().is_err()
    };
    let bad: Vec<String> = list
        .iter()
        .filter(|v| fails(v))
        .map(|v| format!("`{}`", quote(v)))
        .collect();
    if bad.is_empty() {
        format!("`{value}`")
    } else {
        bad.join(", ")
    }
}

/// Checks what types cannot: ranges, files, clashes.
fn validate(c: &Config, problems: &mut Vec<Problem>) {
    let mut bad = |key: &str, message: String| {
        problems.push(Problem {
            key: key.into(),
            message,
        })
    };
    validate_server(c, &mut bad);
    validate_files(c, &mut bad);
    validate_limits(c, &mut bad);
    validate_imap(c, &mut bad);
    validate_auth(&c.auth, &mut bad);
    c.crl_fetch.validate(&mut bad);
    c.mailauth.validate(&mut bad);
    super::relay::validate(&c.relay, &mut bad);
    c.spam.validate(&mut bad);
    super::cluster::validate(&c.store, &c.cluster, &mut bad);
    validate_web(&c.web, &mut bad);
    c.sieve.validate(&mut bad);
    validate_listeners(c, &mut bad);
}

/// `[server]`: host name, log level and format, local domains.
fn validate_server(c: &Config, bad: &mut impl FnMut(&str, String)) {
    if c.server.hostname.trim().is_empty() {
        bad(
            "[server] hostname",
            "must not be empty; set the name clients connect to".into(),
        );
    }
    if !["error", "warn", "info", "debug", "trace"].contains(&c.server.log_level.as_str()) {
        bad(
            "[server] log_level",
            format!(
                "`{}` is not a level; use error, warn, info, debug or trace",
                c.server.log_level
            ),
        );
    }
    if !["text", "json"].contains(&c.server.log_format.as_str()) {
        bad(
            "[server] log_format",
            format!(
                "`{}` is not a format; use text or json",
                c.server.log_format
            ),
        );
    }
    for d in &c.server.local_domains {
        if d.is_empty() || d.contains('@') || d.contains(char::is_whitespace) {
            bad(
                "[server] local_domains",
                format!("`{d}` is not a domain name"),
            );
        }
    }
    let balancers = c.server.proxy_protocol_from.iter().map(String::as_str);
    if let Err(bad_cidr) = certmail_auth::policy::parse_cidrs(balancers) {
        bad(
            "[server] proxy_protocol_from",
            format!("`{bad_cidr}` is not a network; write e.g. 10.0.0.0/8 or 192.0.2.10/32"),
        );
    }
}

/// The files and directories `[tls]` and `[pki]` name.
fn validate_files(c: &Config, bad: &mut impl FnMut(&str, String)) {
    for (key, path) in [("[tls] cert", &c.tls.cert), ("[tls] key", &c.tls.key)] {
        if !path.is_file() {
            bad(
                key,
                format!(
                    "{} does not exist or is not a file; point it at a PEM file",
                    path.display()
                ),
            );
        }
    }
    for problem in c.pki.validate() {
        let (key, text) = problem
            .split_once(": ")
            .unwrap_or(("pki", problem.as_str()));
        bad(
            &format!("[pki] {}", key.trim_start_matches("pki.")),
            text.to_string(),
        );
    }
    for (key, dir) in [
        ("[pki] certs_dir", &c.pki.certs_dir),
        ("[pki] crl_dir", &c.pki.crl_dir),
    ] {
        if !dir.is_dir() {
            bad(
                key,
                format!(
                    "{} is not a directory; create it and put the GPKI/EPKI CA certificates (certs_dir) or CRLs (crl_dir) there",
                    dir.display()
                ),
            );
        }
    }
}

/// `[limits]` and the `[smtp]` limits RFC 5321 sets floors for.
fn validate_limits(c: &Config, bad: &mut impl FnMut(&str, String)) {
    if c.limits.max_connections == 0 {
        bad("[limits] max_connections", "must be at least 1".into());
    }
    if c.limits.max_connections_per_ip == 0 {
        bad(
            "[limits] max_connections_per_ip",
            "must be at least 1".into(),
        );
    }
    if c.smtp.max_line_length < 512 {
        bad(
            "[smtp] max_line_length",
            format!(
                "{} is below 512, the minimum RFC 5321 §4.5.3.1.4 requires; raise it",
                c.smtp.max_line_length
            ),
        );
    }
    if c.smtp.max_recipients < 100 {
        bad(
            "[smtp] max_recipients",
            format!(
                "{} is below 100, the minimum RFC 5321 §4.5.3.1.8 requires; raise it",
                c.smtp.max_recipients
            ),
        );
    }
    if c.smtp.max_message_size < 64 * 1024 {
        bad(
            "[smtp] max_message_size",
            "must be at least 65536 bytes (RFC 5321 §4.5.3.1.7)".into(),
        );
    }
    if c.smtp.max_message_memory < c.smtp.max_message_size {
        bad(
            "[smtp] max_message_memory",
            format!(
                "{} is below max_message_size ({}), so a message of the largest size could never be received; raise it (it bounds all connections together)",
                c.smtp.max_message_memory, c.smtp.max_message_size
            ),
        );
    }
    if c.smtp.command_timeout_secs < 300 {
        bad(
            "[smtp] command_timeout_secs",
            "must be at least 300 (RFC 5321 §4.5.3.2.7)".into(),
        );
    }
}

/// The `[imap]` limits.
fn validate_imap(c: &Config, bad: &mut impl FnMut(&str, String)) {
    if c.imap.autologout_minutes < 30 {
        bad(
            "[imap] autologout_minutes",
            format!(
                "{} is below 30, the minimum RFC 9051 §5.4 allows; raise it",
                c.imap.autologout_minutes
            ),
        );
    }
    if c.imap.max_command_line < 1024 {
        bad(
            "[imap] max_command_line",
            "must be at least 1024 bytes".into(),
        );
    }
    if !(1024..=1024 * 1024).contains(&c.imap.max_literal_before_login) {
        bad(
            "[imap] max_literal_before_login",
            format!(
                "{} is outside 1024..=1048576 bytes: below, long passwords and SASL \
                 responses cannot be sent; above, clients without a certificate could make \
                 the server hold megabytes",
                c.imap.max_literal_before_login
            ),
        );
    }
    if !(1..=10_000).contains(&c.imap.max_acl_entries) {
        bad(
            "[imap] max_acl_entries",
            format!(
                "{} is outside 1..=10000: at least one entry lets a mailbox be shared at all, \
                 and a longer list makes every command on it slower (share with org:ORG)",
                c.imap.max_acl_entries
            ),
        );
    }
    if c.imap.max_search_contexts > 100 {
        bad(
            "[imap] max_search_contexts",
            format!(
                "{} is over 100: every live search is run again after each command of its                  connection (0 turns live searches off)",
                c.imap.max_search_contexts
            ),
        );
    }
}

/// No two listeners on one address (port 0 excepted: the OS picks).
fn validate_listeners(c: &Config, bad: &mut impl FnMut(&str, String)) {
    if !(1..=super::HTTP_BODY_CAP).contains(&c.http.max_request_bytes) {
        bad(
            "[http] max_request_bytes",
            format!(
                "{} is out of range; use 1 to {} (the default 16384 fits every client)",
                c.http.max_request_bytes,
                super::HTTP_BODY_CAP
            ),
        );
    }
    let mut seen = HashSet::new();
    for (key, addrs) in [
        ("[imap] listen_tls", &c.imap.listen_tls),
        ("[imap] listen_starttls", &c.imap.listen_starttls),
        ("[smtp] listen_submissions", &c.smtp.listen_submissions),
        ("[smtp] listen_submission", &c.smtp.listen_submission),
        ("[smtp] listen_mx", &c.smtp.listen_mx),
        ("[http] metrics_listen", &c.http.metrics_listen),
        ("[http] autoconfig_listen", &c.http.autoconfig_listen),
    ] {
        for a in addrs {
            if a.port() != 0 && !seen.insert(*a) {
                bad(
                    key,
                    format!("{a} is already used by another listener; give each its own port"),
                );
            }
        }
    }
}

/// `[web]`: the web crate's own checks, each `web.KEY: text` reported as `[web] KEY`.
fn validate_web(w: &certmail_web::WebConfig, bad: &mut impl FnMut(&str, String)) {
    for problem in w.validate().err().unwrap_or_default() {
        let rest = problem.strip_prefix("web.").unwrap_or(&problem);
        match rest.split_once(": ") {
            Some((key, text)) => bad(&format!("[web] {key}"), text.to_string()),
            None => bad("[web]", problem.clone()),
        }
    }
}

/// Checks `[auth]`: ranges and network lists.
fn validate_auth(a: &super::AuthSection, bad: &mut impl FnMut(&str, String)) {
    if a.max_connections_per_session == 0 {
        bad(
            "[auth] max_connections_per_session",
            "must be at least 1; Thunderbird needs about 6".into(),
        );
    }
    if a.max_devices_per_account == 0 {
        bad(
            "[auth] max_devices_per_account",
            "must be at least 1".into(),
        );
    }
    if a.password_classes > 4 {
        bad(
            "[auth] password_classes",
            format!(
                "{} is more than the 4 kinds there are; use 0-4",
                a.password_classes
            ),
        );
    }
    if a.ip_failure_window_secs == 0 {
        bad(
            "[auth] ip_failure_window_secs",
            "must be at least 1 (set ip_failure_limit = 0 to turn the throttle off)".into(),
        );
    }
    if a.signin_cache_entries > 10_000_000 {
        bad(
            "[auth] signin_cache_entries",
            format!(
                "{} is more than 10000000 (each takes ~100 bytes of memory); 0 turns the cache off",
                a.signin_cache_entries
            ),
        );
    }
    if a.precredential_failure_window_secs == 0 {
        bad(
            "[auth] precredential_failure_window_secs",
            "must be at least 1 (set precredential_failure_limit = 0 to turn it off)".into(),
        );
    }
    if a.contact.trim().is_empty() {
        bad(
            "[auth] contact",
            "must not be empty: refusals tell users whom to ask".into(),
        );
    }
    for (org, list) in &a.networks {
        if let Err(bad_cidr) = certmail_auth::policy::parse_cidrs(list.iter().map(String::as_str)) {
            bad(
                "[auth] networks",
                format!(
                    "`{bad_cidr}` (organisation {org}) is not a network; write e.g. 10.1.0.0/16"
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    /// conf/certmail.toml documents every key: with every commented key switched on, it
    /// must still parse, and the only problems left are files this machine lacks.
    #[test]
    fn the_shipped_config_documents_real_keys() {
        let text = include_str!("../../../conf/certmail.toml");
        let all_on: String = text
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(rest)
                    if rest.split_once(" = ").is_some_and(|(k, _)| {
                        k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    }) =>
                {
                    rest
                }
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        for t in [text, all_on.as_str()] {
            let problems =
                check(t).expect_err("the TLS and PKI files do not exist on a test machine");
            for p in &problems {
                assert!(
                    p.message.contains("does not exist")
                        || p.message.contains("is not a directory"),
                    "unexpected problem {p:?}"
                );
            }
            let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
            // On a machine where the package is installed, its directories exist.
            let mut expected = vec!["[tls] cert", "[tls] key"];
            for (key, dir) in [
                ("[pki] certs_dir", "/etc/certmail/certs"),
                ("[pki] crl_dir", "/etc/certmail/crl"),
            ] {
                if !std::path::Path::new(dir).is_dir() {
                    expected.push(key);
                }
            }
            assert_eq!(keys, expected);
        }
    }

    #[test]
    fn web_needs_a_public_url_when_it_listens() {
        let text = "[pki]\ncerts_dir = \"/nonexistent\"\ncrl_dir = \"/nonexistent\"\n\
                    [web]\nlisten = [\"127.0.0.1:8443\"]\nrequests_per_minute = 0\n";
        let problems = check(text).expect_err("no public_url");
        let web: Vec<_> = problems
            .iter()
            .filter(|p| p.key.starts_with("[web]"))
            .map(|p| p.key.as_str())
            .collect();
        assert_eq!(web, ["[web] public_url", "[web] requests_per_minute"]);
        let typo =
            "[pki]\ncerts_dir = \"/x\"\ncrl_dir = \"/x\"\n[web]\npublic_ur = \"https://a\"\n";
        let problems = check(typo).expect_err("unknown key");
        assert_eq!(problems[0].key, "[web] public_ur", "{problems:?}");
    }

    /// Found by the `config_check` fuzz target: `''=''` was reported under an empty key.
    #[test]
    fn a_key_toml_must_quote_is_named_quoted() {
        let problems = check("''=''\n").expect_err("a plain value at the top");
        assert_eq!(problems[0].key, "\"\"", "{problems:?}");
        assert!(problems[0].message.contains("found a plain value"));
        let text = "[pki]\ncerts_dir = \"/x\"\ncrl_dir = \"/x\"\n[web]\n\"two words\" = 1\n";
        let problems = check(text).expect_err("unknown key");
        assert_eq!(problems[0].key, "[web] \"two words\"", "{problems:?}");
        let problems = check("[\"\"]\n").expect_err("unknown section");
        assert_eq!(problems[0].key, "[\"\"]", "{problems:?}");
    }

    #[test]
    fn the_http_body_limit_is_bounded() {
        let text = "[pki]\ncerts_dir = \"/nonexistent\"\ncrl_dir = \"/nonexistent\"\n\
                    [http]\nmax_request_bytes = 0\n";
        let problems = check(text).expect_err("zero bytes");
        let p = problems
            .iter()
            .find(|p| p.key == "[http] max_request_bytes")
            .expect("named");
        assert!(p.message.contains("1 to 1048576"), "{p:?}");
    }

    #[test]
    fn auth_mistakes_are_each_reported_by_key() {
        let text = "[pki]\ncerts_dir = \"/nonexistent\"\ncrl_dir = \"/nonexistent\"\n\
                    [auth]\nsession_policy = \"newest\"\nlockout_threshold = -1\n";
        let problems = check(text).expect_err("two bad keys");
        let keys: Vec<_> = problems
            .iter()
            .map(|p| p.key.as_str())
            .filter(|k| k.starts_with("[auth]"))
            .collect();
        assert_eq!(keys, ["[auth] lockout_threshold", "[auth] session_policy"]);
        assert!(problems[1].message.contains("replace"), "{:?}", problems[1]);

        let text = "[pki]\ncerts_dir = \"/nonexistent\"\ncrl_dir = \"/nonexistent\"\n\
                    [auth]\npassword_classes = 5\ncontact = \" \"\n\
                    networks = { \"교육부\" = [\"10.0.0.0/8\", \"10.1/16\"] }\n";
        let problems = check(text).expect_err("bad values");
        let auth: Vec<_> = problems
            .iter()
            .filter(|p| p.key.starts_with("[auth]"))
            .map(|p| (p.key.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(auth.len(), 3, "{auth:?}");
        assert!(
            auth.iter()
                .any(|(k, m)| *k == "[auth] networks" && m.contains("10.1/16"))
        );
        assert!(auth.iter().any(|(k, _)| *k == "[auth] password_classes"));
        assert!(auth.iter().any(|(k, _)| *k == "[auth] contact"));
    }

    /// Problems of every kind come out of one run: a misspelled key, an unknown section, a
    /// bad value and a missing file (before, the last two waited for the first two's fix).
    #[test]
    fn one_run_reports_problems_of_every_kind() {
        let text = "[server]\nlgo_level = \"info\"\nlog_level = \"verbose\"\n\
                    [imap]\nlisten_tls = [\"993\"]\n\
                    [tls]\ncert = \"/nonexistent/서버.crt\"\n\
                    [webmail]\nlisten = \"0.0.0.0:80\"\n\
                    [pki]\ncerts_dir = \"/nonexistent\"\ncrl_dir = \"/nonexistent\"\n";
        let problems = check(text).expect_err("five problems");
        let find = |key: &str| {
            problems
                .iter()
                .find(|p| p.key == key)
                .unwrap_or_else(|| panic!("no problem for {key} in {problems:#?}"))
        };
        assert!(find("[server] lgo_level").message.contains("unknown field"));
        assert!(find("[webmail]").message.contains("unknown section"));
        assert!(find("[server] log_level").message.contains("`verbose`"));
        assert!(find("[tls] cert").message.contains("/nonexistent/서버.crt"));
        let listen = find("[imap] listen_tls");
        assert!(
            listen.message.contains("`993`") && listen.message.contains("socket address"),
            "{listen:?}"
        );
    }

    #[test]
    fn a_syntax_error_keeps_its_snippet_lines() {
        let problems = check("[server]\nhostname = \"mx\n").expect_err("unclosed string");
        assert_eq!(problems.len(), 1);
        let lines: Vec<_> = problems[0].message.lines().collect();
        assert!(lines.len() >= 3, "{lines:?}");
        assert!(
            lines.iter().any(|l| l.contains("hostname = \"mx")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.trim_start().starts_with('|') && l.contains('^'))
        );
    }

    #[test]
    fn a_minimal_file_needs_only_pki() {
        let problems = check("[server]\nhostname = \"mx.example\"\n").expect_err("no [pki]");
        assert!(
            problems
                .iter()
                .any(|p| p.key == "[pki]" && p.message.contains("certs_dir"))
        );
    }
}
