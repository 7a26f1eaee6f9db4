//! The command line: `certmail serve|dev|check-config|keygen|…`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// What `certmail --help` says about exit codes and --json.
const EXIT_CODES: &str = "\
Administrative commands talk to the running daemon over its admin socket; with the daemon
stopped, most of them open the store directly.

--json (on every administrative command) prints one JSON object:
  {\"ok\": bool, \"code\": \"machine_code\" (failures only), \"message\": \"...\", \"data\": {...}}
(`audit tail -f --json` prints one JSON object per event and line.)

Exit codes:
  0  success
  1  failure or refusal (the message and the JSON \"code\" say why)
  2  usage error (bad arguments)
  3  the daemon is not running but the command needs it (reload, session, audit tail -f),
     or it is running and the command needs it stopped (restore)";

/// certmail: a mail server (SMTP + IMAP) where every sign-in is a GPKI/EPKI certificate.
#[derive(Debug, Parser)]
#[command(name = "certmail", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        env = "CERTMAIL_CONFIG",
        default_value = "/etc/certmail/certmail.toml"
    )]
    pub config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon with the configuration file.
    Serve,
    /// Print a manual page as roff: certmail(8) or certmail.toml(5).
    ///
    /// The .deb installs both; read one with `certmail man | man -l -`.
    Man {
        /// Which page.
        #[arg(value_enum, default_value = "certmail")]
        page: Page,
    },
    /// Check the configuration file and list every problem in it.
    CheckConfig,
    /// Run a self-contained development server: test PKI, demo account and data in DIR.
    ///
    /// The first run creates DIR/certmail.toml (DIR: `--data`, certmail-dev by default) and
    /// everything it names; later runs are exactly `certmail serve --config
    /// DIR/certmail.toml`.
    Dev {
        /// The data directory DIR.
        #[arg(long, value_name = "DIR", default_value = "certmail-dev")]
        data: PathBuf,
        /// When creating DIR, let the OS choose every port (for tests and for running
        /// several dev servers at once); the `listening` lines say which.
        #[arg(long)]
        ephemeral_ports: bool,
    },
    /// Ask the running daemon to re-read its configuration, certificates and CRLs without
    /// dropping connections; fails (and the old configuration stays) if the new one is
    /// broken. This is the systemd unit's ExecReload.
    Reload {
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// Manage accounts (on the running daemon, or on the store when it is stopped).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage certificate bindings, and inspect certificates.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Live sessions: list them, or end one (the account's every connection hears why).
    #[command(subcommand)]
    Session(SessionCommand),
    /// Devices accounts signed in from (certificate + network): list or forget them.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Manage aliases and distribution lists (one address for many accounts).
    #[command(subcommand)]
    Alias(AliasCommand),
    /// Share mailboxes with other people (IMAP ACL, seen by them as Other Users/…).
    #[command(subcommand)]
    Mailbox(MailboxCommand),
    /// Certificate revocation lists: fetch them from the LDAP distribution points.
    #[command(subcommand)]
    Crl(CrlCommand),
    /// Write a consistent snapshot of the store into the new directory DIR while the daemon
    /// runs (its user writes DIR, so under systemd pick a ReadWritePaths directory such as
    /// /var/lib/certmail/backups; writers pause while the store is copied). Bodies stay
    /// encrypted: keep the store key file safe separately, restore needs it. The embedded
    /// (sled) store only: on PostgreSQL use pg_dump or base backups with WAL archiving (PITR).
    Backup {
        /// The backup directory (created; must be new or empty).
        dir: PathBuf,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// Restore a backup into this installation's store. The daemon must be stopped and the
    /// store empty (or --force, which moves the old store aside); the key file must be the
    /// one of the installation the backup came from. Then start the daemon. The embedded
    /// (sled) store only: on PostgreSQL use pg_restore or point-in-time recovery.
    Restore {
        /// The backup directory (with manifest.json).
        dir: PathBuf,
        /// Replace a store that holds mail (it is moved to store.before-restore-TIME).
        #[arg(long)]
        force: bool,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// Import a Dovecot Maildir (Maildir++ folders, flags, keywords) into an account, on the
    /// running daemon (or the stopped store). Sent/Drafts/Trash/Junk go to the account's
    /// special-use mailboxes. Running it twice imports the messages twice.
    ImportMaildir(ImportArgs),
    /// Read the audit log: sign-ins, refusals, admin actions.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Counts: accounts, mailboxes, messages, store size, live sessions, queue depth.
    Stats {
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// DKIM signing keys for outbound mail.
    #[command(subcommand)]
    Dkim(DkimCommand),
    /// The outbound queue: list, show, retry, hold, release or delete queued messages.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// The mail store itself: copy a whole installation to another backend.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Create the store's encryption key file (32 random bytes, mode 0600).
    Keygen {
        /// Where to write it. Default: the key file the configuration names.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `certmail store …`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy a whole installation into an empty store of another backend (sled to
    /// PostgreSQL, or back): accounts, certificate bindings, devices, mailboxes with their
    /// UIDVALIDITY, UIDs, MODSEQs and flags, bodies (still encrypted), ACLs and seen sets,
    /// Sieve scripts, subscriptions, aliases, the queue and the audit log; then compare
    /// the counts of every kind and read a sample of bodies back.
    ///
    /// Stop the daemon (every node) first. The key file is the one of --config's
    /// installation ([server] key_file); the target uses the same key. Each account is
    /// copied in one transaction; a copy that fails leaves a target to empty before
    /// trying again (it does not resume).
    Copy(StoreCopyArgs),
    /// Bring the PostgreSQL schema up to this version of certmail and say from which
    /// version. The daemon does the same when it starts (under a lock, so nodes starting
    /// at once never race); run it before starting upgraded nodes to see it done. A sled
    /// store needs no command: its format is upgraded when it is opened.
    Migrate,
    /// Build the full-text search index for mail stored before it existed (or by an older
    /// `store copy`) and drop the postings of bodies no longer held. Until then SEARCH
    /// BODY/TEXT stays correct but reads such messages in full. A sled store must be
    /// stopped first; PostgreSQL may be running.
    Reindex,
}

/// `certmail store copy`'s arguments.
#[derive(Debug, clap::Args)]
pub struct StoreCopyArgs {
    /// Where the mail is: `sled:DIR` (a data directory, as [server] data_dir, whose
    /// store/ holds the mail) or `postgres:URL` (as [store] postgres_url).
    #[arg(long, value_name = "STORE")]
    pub from: String,
    /// Where it goes, an empty store: `postgres:URL` (a new, empty database) or
    /// `sled:DIR` (a new data directory).
    #[arg(long, value_name = "STORE")]
    pub to: String,
    /// How many bodies to read back from both stores and compare after the copy.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub verify_bodies: usize,
    /// How to print the answer (`--json`).
    #[command(flatten)]
    pub out: Output,
}

/// Options shared by the admin subcommands.
#[derive(Debug, clap::Args)]
pub struct Output {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `certmail account add --kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    /// One person's account (the default).
    Person,
    /// An institution's or department's mailbox.
    Institution,
}

/// `certmail account add`'s arguments.
#[derive(Debug, clap::Args)]
pub struct AddAccount {
    /// The login id (lowercase letters, digits, . _ -).
    pub id: String,
    /// The person's name exactly as on their certificate, e.g. 홍길동.
    #[arg(long)]
    pub name: String,
    /// The organisation (agency, school).
    #[arg(long, default_value = "")]
    pub organisation: String,
    /// A mail address; repeat for several (the first is the primary one).
    #[arg(long = "address", required = true)]
    pub addresses: Vec<String>,
    /// Accept addresses outside `[server] local_domains` (mail to them is not delivered
    /// here; without this flag they are refused).
    #[arg(long)]
    pub foreign: bool,
    /// Approve the account at once.
    #[arg(long)]
    pub approve: bool,
    /// `institution` for an institution's or department's mailbox (대표 메일): its staff
    /// read it through shared access (`certmail mailbox share`); only its special-purpose
    /// certificate signs in to it directly (with `[pki] allow_special_purpose = true`).
    #[arg(long, value_enum, default_value_t = KindArg::Person)]
    pub kind: KindArg,
    /// Read the password from standard input (one line) instead of generating a
    /// temporary one.
    #[arg(long)]
    pub password_stdin: bool,
    /// How to print the answer (`--json`).
    #[command(flatten)]
    pub out: Output,
}

/// The account an account subcommand acts on, and how to print the answer.
#[derive(Debug, clap::Args)]
pub struct AccountTarget {
    /// The login id.
    pub id: String,
    /// How to print the answer (`--json`).
    #[command(flatten)]
    pub out: Output,
}

/// `certmail account …`
// The doc comments are the --help text, so `[auth]` stays as it reads there.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account. It is pending until approved (or pass --approve).
    Add(AddAccount),
    /// Approve a pending account, or re-activate a disabled one.
    Approve(AccountTarget),
    /// Disable an account: it can no longer sign in.
    Disable(AccountTarget),
    /// Delete an account with its addresses, certificates and mail; its session ends.
    ///
    /// Asks for the account id on a terminal; scripts pass --yes. With --keep-mail DIR
    /// the mail is first written there as a Maildir, which import-maildir reads back.
    Delete {
        /// The login id.
        id: String,
        /// Delete without asking (for scripts).
        #[arg(long)]
        yes: bool,
        /// First keep its mail: write it as a Maildir into this new or empty directory
        /// (written by the daemon's user while it runs; `import-maildir` reads it back).
        #[arg(long, value_name = "DIR")]
        keep_mail: Option<PathBuf>,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// Lock an account: it can no longer sign in and its live session ends.
    Lock(AccountTarget),
    /// Unlock a locked account and reset its count of failed sign-ins.
    Unlock(AccountTarget),
    /// Out-of-office reply for a person on leave: installs and activates the Sieve script
    /// `certmail-vacation`, which replies between the dates (UTC) and keeps running the
    /// person's own active script; --off deletes it and makes that script active again.
    Vacation(VacationArgs),
    /// Grant or remove a role: `org-admin --organisation ORG` lets the account approve
    /// sign-ups and help the people of ORG on the web ([web]); `--remove` takes it away.
    Role {
        /// The login id.
        id: String,
        /// The role (only `org-admin`).
        #[arg(value_parser = ["org-admin"])]
        role: String,
        /// The organisation administered, exactly as the accounts' organisation.
        #[arg(long, required_unless_present = "remove", conflicts_with = "remove")]
        organisation: Option<String>,
        /// Remove the role instead of granting it.
        #[arg(long)]
        remove: bool,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// Set the networks (CIDR) an account may sign in from, replacing its organisation's
    /// ([auth] networks); with none, the organisation's apply again.
    Networks {
        /// The login id.
        id: String,
        /// Networks, e.g. 10.1.0.0/16 or 192.0.2.7.
        cidrs: Vec<String>,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// TOTP (authenticator app) codes for an account: enable (prints the otpauth:// URI to
    /// scan), show the URI again, or disable.
    Totp {
        /// enable, show or disable.
        #[arg(value_parser = ["enable", "show", "disable"])]
        action: String,
        /// The login id.
        id: String,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// Replace an account's password (generated and temporary unless --password-stdin).
    Passwd {
        /// The login id.
        id: String,
        /// Read the new password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// Show an account and its certificates.
    Show(AccountTarget),
    /// List accounts.
    List(Output),
}

/// `certmail cert …`
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Bind a user's certificate (PEM or DER file) to their account.
    Bind {
        /// The login id.
        account: String,
        /// The certificate file.
        file: PathBuf,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// Unbind a certificate, named by the certificate file or its SPKI SHA-256.
    Unbind {
        /// The login id.
        account: String,
        /// The certificate file, or its SPKI SHA-256 in hex as `cert list` prints it.
        cert: String,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// List bound certificates.
    List {
        /// Only this account's.
        #[arg(long)]
        account: Option<String>,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// Explain what the server would decide about a certificate, and why (exit 0 accept,
    /// 1 refuse). With --account, also the binding and the name match.
    Inspect {
        /// The certificate file (PEM or DER).
        file: PathBuf,
        /// Check binding and name against this account.
        #[arg(long)]
        account: Option<String>,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
}

/// `certmail alias …`
#[derive(Debug, Subcommand)]
pub enum AliasCommand {
    /// Create or replace an alias: mail to ADDRESS goes to every member, stored once.
    Set {
        /// The alias address, e.g. all-staff@example.go.kr.
        address: String,
        /// Account ids or addresses (at least one).
        #[arg(required = true)]
        members: Vec<String>,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// Remove an alias.
    Remove {
        /// The alias address.
        address: String,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// List aliases.
    List(Output),
}

/// `certmail mailbox …`
#[derive(Debug, Subcommand)]
pub enum MailboxCommand {
    /// Give someone rights on a mailbox (RFC 4314: l lookup, r read, s seen, w flags,
    /// i insert, p post, k create, x delete mailbox, t delete messages, e expunge,
    /// a administer), or take them away with --revoke.
    Share {
        /// The mailbox, as ACCOUNT/MAILBOX (e.g. hong/INBOX, 기획팀/공지).
        target: String,
        /// Who: an account id, org:ORGANISATION (everyone in it) or anyone.
        #[arg(long)]
        to: String,
        /// The rights, e.g. lrs to read, lrswite to work in it.
        #[arg(long, default_value = "", required_unless_present = "revoke")]
        rights: String,
        /// Remove every right of --to instead.
        #[arg(long, conflicts_with = "rights")]
        revoke: bool,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
}

/// `certmail device …`
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// List an account's devices with first and last seen.
    List {
        /// The login id.
        account: String,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// Forget one device (its id as `device list` prints it), or all of the account's;
    /// a forgotten device needs a TOTP code again.
    Forget {
        /// The login id.
        account: String,
        /// The device id; none forgets every device of the account.
        device: Option<String>,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
}

/// `certmail session …`
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List live sessions: account, device, IP, protocols, connections, since.
    List(Output),
    /// End an account's session now.
    Kick {
        /// The login id.
        account: String,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
}

/// `certmail audit …`
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Print the newest audit events (sign-ins, refusals, admin actions), oldest first.
    Tail {
        /// How many events.
        #[arg(short = 'n', long = "lines", default_value_t = 20)]
        lines: usize,
        /// Keep printing new events as they happen (needs the running daemon; with
        /// --json, one JSON object per line). Stop with Ctrl-C.
        #[arg(short = 'f', long)]
        follow: bool,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// Find audit events by account, client IP and time; every filter given must match.
    Search {
        /// Only this account's events.
        #[arg(long)]
        account: Option<String>,
        /// Only events from this client IP address.
        #[arg(long)]
        ip: Option<String>,
        /// From this time on: 2026-11-22, 2026-11-22T09:00:00Z, Unix seconds, or an age
        /// such as 30m, 12h, 7d.
        #[arg(long)]
        since: Option<String>,
        /// Before this time (same forms as --since).
        #[arg(long)]
        until: Option<String>,
        /// At most this many (the newest that match).
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
}

/// `certmail import-maildir …`
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The login id of the account to import into (it must exist).
    pub account: String,
    /// The Maildir: the directory holding cur/, new/ and the .Folder directories.
    pub path: PathBuf,
    /// How to print the answer (`--json`).
    #[command(flatten)]
    pub out: Output,
}

/// `certmail queue …`
#[derive(Debug, clap::Subcommand)]
pub enum QueueCommand {
    /// List queued messages: id, sender, recipients, attempts, next try, held.
    List(Output),
    /// Show one queued message with each recipient's last error.
    Show {
        /// The queue id.
        id: u64,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// Try to deliver one queued message now (a held one is released).
    Retry {
        /// The queue id.
        id: u64,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// Hold a queued message: it is not delivered until released.
    Hold {
        /// The queue id.
        id: u64,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// Release a held message.
    Release {
        /// The queue id.
        id: u64,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// Delete a queued message: it is neither delivered nor reported to the sender.
    Delete {
        /// The queue id.
        id: u64,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
    /// TLS reports (RFC 8460): the sessions' TLS results counted so far, per day and
    /// recipient domain; with --send, mail them now (today's too) to the domains that
    /// publish `_smtp._tls` (otherwise the daemon sends past days once a day).
    TlsReport {
        /// Send the reports now.
        #[arg(long)]
        send: bool,
        /// How to print the answer (`--json`).
        #[command(flatten)]
        out: Output,
    },
}

/// `certmail crl …`
#[derive(Debug, clap::Subcommand)]
pub enum CrlCommand {
    /// Fetch the CRLs of the distribution points in use (those the CRL directory serves,
    /// `[crl_fetch] distribution_points`, and --cert/--uri), verify each and swap it into
    /// `[pki] crl_dir`; the running daemon picks the files up and ends revoked sessions.
    /// Exit 0: all fresh; 1: a distribution point failed (its last good CRL stays);
    /// 2: a CRL in force is within `[crl_fetch] warn_before_hours` of its nextUpdate.
    /// Run by certmail-crl-fetch.timer.
    Fetch {
        /// Also fetch the distribution points of this certificate (PEM or DER), e.g. one
        /// about to be bound; repeat for several.
        #[arg(long = "cert")]
        certs: Vec<PathBuf>,
        /// Also fetch this distribution point (ldap:// or http://); repeat for several.
        #[arg(long = "uri")]
        uris: Vec<String>,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
}

/// `certmail dkim …`
#[derive(Debug, Subcommand)]
pub enum DkimCommand {
    /// Make a DKIM key (PEM, mode 0600) and print the TXT record and the config lines.
    Keygen {
        /// The signing domain (the From: domain of outbound mail).
        #[arg(long)]
        domain: String,
        /// The selector; the record goes to SELECTOR._domainkey.DOMAIN.
        #[arg(long)]
        selector: String,
        /// rsa (2048 bits, verified everywhere; made with the openssl CLI) or ed25519
        /// (RFC 8463; not every receiver verifies it yet).
        #[arg(long, default_value = "rsa")]
        algorithm: String,
        /// Where to write the key. Default: ./DOMAIN.SELECTOR.pem
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Which page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Page {
    /// certmail(8): the daemon and its commands.
    Certmail,
    /// certmail.toml(5): the configuration file.
    #[value(name = "certmail.toml")]
    CertmailToml,
}

/// `account vacation`.
#[derive(Debug, clap::Args)]
pub struct VacationArgs {
    /// The login id.
    pub id: String,
    /// First day of the leave, YYYY-MM-DD.
    #[arg(long, required_unless_present = "off", conflicts_with = "off")]
    pub from: Option<String>,
    /// Last day of the leave, YYYY-MM-DD.
    #[arg(long, required_unless_present = "off", conflicts_with = "off")]
    pub until: Option<String>,
    /// File with the reply's text (UTF-8).
    #[arg(long, required_unless_present = "off", conflicts_with = "off")]
    pub message: Option<PathBuf>,
    /// The reply's subject (default: "Auto: " and the original subject).
    #[arg(long, conflicts_with = "off")]
    pub subject: Option<String>,
    /// Turn the vacation reply off and restore the previous script.
    #[arg(long)]
    pub off: bool,
    /// How to print the answer (`--json`).
    #[command(flatten)]
    pub out: Output,
}
