//! `certmail man [certmail|certmail.toml]`: the manual pages, as roff. The .deb ships both
//! (`scripts/deb` writes them before `cargo deb`):
//!
//! - `certmail(8)`: what the daemon is, its commands (each with its usage line and its
//!   one-line summary, from the clap definitions, so it always matches the binary), files,
//!   signals, exit status and environment. Written for a reader of `man`, not a dump of
//!   `--help` (which has each option's details).
//! - `certmail.toml(5)`: every section and key of the configuration with its default and
//!   its explanation, rendered from `conf/certmail.toml` itself (compiled in), whose
//!   comments are the one source of that text and which a test checks against the
//!   configuration types.

use clap::CommandFactory as _;

/// The configuration file with its comments: the source of `certmail.toml(5)`.
const CONFIG_EXAMPLE: &str = include_str!("../../../../conf/certmail.toml");

/// Which page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Page {
    /// certmail(8): the daemon and its commands.
    Certmail,
    /// certmail.toml(5): the configuration file.
    #[value(name = "certmail.toml")]
    CertmailToml,
}

/// The page as roff.
pub fn render(page: Page) -> String {
    match page {
        Page::Certmail => certmail_8(),
        Page::CertmailToml => certmail_toml_5(),
    }
}

/// The manual page of `certmail`, section 8.
pub fn certmail_8() -> String {
    let mut cmd = crate::cli::args::Cli::command();
    cmd.build();
    let version = cmd.get_version().unwrap_or("").to_string();
    let mut out = format!(
        ".TH certmail 8 \"\" \"certmail {version}\" \"System Administration\"\n\
         .SH NAME\ncertmail \\- mail server signing users in with GPKI/EPKI certificates\n\
         .SH SYNOPSIS\n.B certmail\n[\\fB\\-\\-config\\fR \\fIFILE\\fR] \\fICOMMAND\\fR \
         [\\fIARGS\\fR]\n"
    );
    out.push_str(DESCRIPTION);
    out.push_str(".SH COMMANDS\n");
    for sub in cmd.get_subcommands().filter(|s| shown(s)) {
        commands(sub, &mut out);
    }
    out.push_str(TAIL);
    out
}

/// Who the server is for and how it runs.
const DESCRIPTION: &str = r#".SH DESCRIPTION
.B certmail
is an SMTP and IMAP mail server for Korean public institutions. Every user signs
in with a GPKI or EPKI TLS client certificate checked against the configured
issuing CAs and CRLs, plus a password and, where enabled, a TOTP code. Each
account has one active session at a time.
.PP
.B certmail serve
runs the daemon (the systemd unit does this). The administrative commands talk
to the running daemon over its admin socket, a Unix socket only its user and
root can use; with the daemon stopped, most of them work on the store directly.
Every administrative command takes
.B \-\-json
and then prints one JSON object with \fBok\fR, \fBcode\fR, \fBmessage\fR and
\fBdata\fR.
.PP
.B \-\-config \fIFILE\fR
names the configuration file (default \fI/etc/certmail/certmail.toml\fR); see
.BR certmail.toml (5).
.B certmail check\-config
lists every problem in it at once.
"#;

/// FILES, SIGNALS, EXIT STATUS, ENVIRONMENT, SEE ALSO.
const TAIL: &str = r#".SH FILES
.TP
.I /etc/certmail/certmail.toml
The configuration (mode 0640, group certmail).
.TP
.I /etc/certmail/tls/
The server certificate chain and key ([tls] cert, key).
.TP
.I /etc/certmail/certs/ \fRand\fI /etc/certmail/crl/
Issuing CA certificates and CRLs ([pki] certs_dir, crl_dir).
.TP
.I /var/lib/certmail/
The mail store, its key file \fIstore.key\fR (keep a copy apart from
backups: restore needs it) and the admin socket \fIadmin.sock\fR.
.TP
.I /usr/lib/systemd/system/certmail.service
The unit; \fBcertmail\-crl\-fetch.timer\fR fetches CRLs daily.
.SH SIGNALS
.TP
.B SIGHUP
Re-read the configuration, TLS certificates, CA certificates and CRLs, keeping
every connection. A broken configuration, or a changed key that only a restart
applies (listeners, the store), is refused and the old one stays in force.
.B certmail reload
does the same and reports the outcome; the unit's ExecReload uses it.
.TP
.BR SIGTERM ", " SIGINT
Stop accepting, let open connections finish within [server]
shutdown_grace_secs, then exit.
.SH EXIT STATUS
.TP
.B 0
Success (for \fBcert inspect\fR: the certificate is accepted).
.TP
.B 1
Failure or refusal; the message and the JSON \fBcode\fR say why.
.TP
.B 2
Usage error (bad arguments).
.TP
.B 3
The command needs the running daemon and none answers (reload, session, audit
tail \-f), or it needs the daemon stopped and it runs (restore).
.SH ENVIRONMENT
.TP
.B CERTMAIL_CONFIG
The configuration file, when \fB\-\-config\fR is not given.
.TP
.B RUST_LOG
Log filter (e.g. \fBinfo\fR, \fBcertmail=debug\fR); wins over [server]
log_level.
.TP
.B NOTIFY_SOCKET
Set by systemd: the daemon reports readiness, reloads and stopping there.
.TP
.B JOURNAL_STREAM
Set by systemd: logs go to the journal as plain text with priorities.
.SH SEE ALSO
.BR certmail.toml (5),
.BR systemctl (1),
.BR journalctl (1),
.BR openssl (1)
.PP
The README and \fI/usr/share/doc/certmail/certs\-README.md\fR (obtaining the
server certificate, CA certificates and CRLs).
"#;

/// One `.SS` per command: its usage line and its summary; then its subcommands.
fn commands(cmd: &clap::Command, out: &mut String) {
    let leaf = !cmd.has_subcommands();
    let name = cmd.get_bin_name().unwrap_or_else(|| cmd.get_name());
    out.push_str(&format!(".SS \"{}\"\n", escape(name)));
    if leaf {
        let usage = cmd.clone().render_usage().to_string();
        let usage = usage.trim_start_matches("Usage:").trim();
        out.push_str(&format!(".B {}\n.br\n", escape(usage)));
    }
    if let Some(about) = cmd.get_long_about().or(cmd.get_about()) {
        for line in about.to_string().lines() {
            let line = line.trim();
            out.push_str(&if line.is_empty() {
                ".PP".to_string()
            } else {
                escape(line)
            });
            out.push('\n');
        }
    }
    for sub in cmd.get_subcommands().filter(|s| shown(s)) {
        commands(sub, out);
    }
}

/// Whether a subcommand belongs in the page (not clap's own `help`).
fn shown(cmd: &clap::Command) -> bool {
    !cmd.is_hide_set() && cmd.get_name() != "help"
}

/// `certmail.toml(5)` from [`CONFIG_EXAMPLE`]: its opening comment is the description,
/// each `[section]` a subsection, each key (commented out or not) a tagged paragraph with
/// the comment lines just above it.
pub fn certmail_toml_5() -> String {
    let mut out = String::from(
        ".TH certmail.toml 5 \"\" \"certmail\" \"File Formats\"\n\
         .SH NAME\ncertmail.toml \\- configuration of the certmail mail server\n\
         .SH SYNOPSIS\n.I /etc/certmail/certmail.toml\n.SH DESCRIPTION\n",
    );
    let mut comment: Vec<&str> = Vec::new();
    let mut in_sections = false;
    for line in CONFIG_EXAMPLE.lines() {
        let text = line.trim();
        if let Some(c) = text.strip_prefix('#').filter(|c| !is_key(c)) {
            comment.push(c.trim());
            continue;
        }
        if text.starts_with('[') {
            if !in_sections {
                out.push_str(".SH SECTIONS\n");
                in_sections = true;
            }
            paragraph(&mut out, &comment);
            comment.clear();
            out.push_str(&format!(".SS \"{}\"\n", escape(text)));
        } else if text.is_empty() {
            paragraph(&mut out, &comment);
            comment.clear();
        } else {
            let key = text.trim_start_matches('#');
            out.push_str(&format!(".TP\n.B {}\n", escape(key)));
            if !text.starts_with('#') {
                // The example file sets only the keys every site must fill in.
                out.push_str("Required; the value shown is an example.\n.br\n");
            }
            paragraph_body(&mut out, &comment);
            comment.clear();
        }
    }
    paragraph(&mut out, &comment);
    out.push_str(
        ".SH SEE ALSO\n.BR certmail (8)\n.PP\n\
         .B certmail check\\-config\nlists every problem of a configuration at once.\n",
    );
    out
}

/// Whether a comment's text is a commented-out key (`#key = value`), not prose.
fn is_key(c: &str) -> bool {
    let Some((k, _)) = c.split_once('=') else {
        return false;
    };
    let k = k.trim();
    !c.starts_with(' ')
        && !k.is_empty()
        && k.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// Comment lines as a paragraph of their own.
fn paragraph(out: &mut String, lines: &[&str]) {
    if !lines.is_empty() {
        out.push_str(".PP\n");
        paragraph_body(out, lines);
    }
}

fn paragraph_body(out: &mut String, lines: &[&str]) {
    for l in lines.iter().filter(|l| !l.is_empty()) {
        out.push_str(&escape(l));
        out.push('\n');
    }
}

/// Text safe inside roff: backslashes, hyphens and double quotes (which would end a
/// request's argument) escaped, and no line read as a request.
fn escape(line: &str) -> String {
    let line = line
        .replace('\\', "\\e")
        .replace('-', "\\-")
        .replace('"', "\\(dq");
    if line.starts_with('.') || line.starts_with('\'') {
        format!("\\&{line}")
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_section_8_and_documents_every_command() {
        let page = certmail_8();
        assert!(page.contains(".TH certmail 8"), "{page:.300}");
        for command in [
            "certmail serve",
            "certmail reload",
            "certmail crl fetch",
            "certmail account add",
            "certmail account delete",
            "certmail queue retry",
            "certmail man",
        ] {
            let heading = format!(".SS \"{}\"", escape(command));
            assert!(page.contains(&heading), "{command} missing");
        }
        assert!(
            page.contains("CERTMAIL_CONFIG"),
            "the global option is documented"
        );
        assert!(
            !page.contains("certmail\\-serve(8)"),
            "no pages that are not shipped"
        );
        assert!(
            !page.contains("Print JSON instead of a table"),
            "options' help stays in --help, not a dump of it"
        );
        assert!(
            page.lines()
                .filter(|l| l.starts_with('.'))
                .all(|l| l.len() >= 2 && !l.starts_with(". ")),
            "no stray request lines"
        );
    }

    #[test]
    fn the_config_page_has_every_section_and_key_of_the_example() {
        let page = certmail_toml_5();
        assert!(page.contains(".TH certmail.toml 5"));
        for line in CONFIG_EXAMPLE.lines().map(str::trim) {
            if line.starts_with('[') {
                assert!(
                    page.contains(&format!(".SS \"{}\"", escape(line))),
                    "{line}"
                );
            }
        }
        assert!(page.contains(".B crl_grace_secs = 86400"), "{page}");
        assert!(
            page.contains(".B hostname = \\(dqmail.example.go.kr\\(dq"),
            "quotes survive: {page}"
        );
        assert!(page.contains("Seconds a CRL stays usable after its nextUpdate"));
    }

    #[test]
    fn help_text_cannot_inject_roff_requests() {
        assert_eq!(escape(".SH x"), "\\&.SH x");
        assert_eq!(escape("'br"), "\\&'br");
        assert_eq!(escape("a\\b"), "a\\eb");
    }
}
