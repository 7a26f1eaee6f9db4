//! `certmail account delete ID [--keep-mail DIR]`: removes an account for good.
//!
//! What goes: the account, its addresses (free for another account at once), its
//! certificate bindings, devices, mailboxes and messages (`AccountStore::delete_account`);
//! its live connections end first. What stays: its audit events (they name the account
//! id) and queued outbound mail it already sent.
//!
//! `--keep-mail DIR` first writes the account's mail as a Maildir++ into DIR (absolute,
//! new or empty; written by whoever executes the request: the daemon's user when it runs,
//! the operator's CLI when it is stopped; mode 0700): INBOX in `DIR/{cur,new,tmp}`, every
//! other mailbox in `DIR/.Name` (levels joined with `.`, names in IMAP modified UTF-7),
//! flags as Maildir info letters, keywords in `dovecot-keywords`, UIDs in
//! `dovecot-uidlist`, INTERNALDATE as the file time. An administrator reads it with any
//! Maildir tool, or gives it back to an account with `certmail import-maildir`. If the
//! export fails nothing is deleted.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use certmail_session::KickReason;
use certmail_store::AccountState;
use serde_json::json;

use super::Response;
use super::context::{AdminContext, ended};

/// IMAP system flags and their Maildir info letters, in the letters' ASCII order.
const FLAG_LETTERS: [(&str, char); 5] = [
    ("\\Draft", 'D'),
    ("\\Flagged", 'F'),
    ("\\Answered", 'R'),
    ("\\Seen", 'S'),
    ("\\Deleted", 'T'),
];

/// What an export wrote.
#[derive(Debug, Default)]
struct Exported {
    mailboxes: u64,
    messages: u64,
    /// Keywords beyond Maildir's 26 letters, dropped (per mailbox).
    dropped_keywords: u64,
}

/// `account delete`: ends the account's sessions, exports its mail if asked, deletes it.
pub(super) async fn delete(
    ctx: &AdminContext,
    id: &str,
    keep_mail: Option<&str>,
) -> anyhow::Result<Response> {
    let Some(account) = ctx.store.account(id).await? else {
        return Ok(super::accounts::not_found(id));
    };
    let keep = match keep_mail.map(check_dir).transpose() {
        Ok(k) => k,
        Err(refused) => return Ok(refused),
    };
    // No new sign-in while the mail is copied; restored if the export fails.
    let before = account.state;
    let mut disabled = account.clone();
    disabled.state = AccountState::Disabled;
    ctx.store.update_account(disabled).await?;
    let n = ctx.kick(id, KickReason::AccountDisabled).await;
    let exported = match &keep {
        None => None,
        Some(dir) => match export(ctx, id, dir).await {
            Ok(e) => Some(e),
            Err(e) => {
                let mut restored = account.clone();
                restored.state = before;
                ctx.store.update_account(restored).await?;
                return Ok(Response::fail(
                    "export_failed",
                    format!(
                        "could not write the mail of {id} to {}: {e:#}; nothing was deleted",
                        dir.display()
                    ),
                ));
            }
        },
    };
    ctx.store.delete_account(id).await?;
    let mut message = format!(
        "account {id} deleted with its addresses, certificates and mail{}",
        ended(n)
    );
    if let (Some(dir), Some(e)) = (&keep, &exported) {
        message = format!(
            "account {id} deleted{}; its mail ({} in {}) is kept as a Maildir in {} \
             (`certmail import-maildir ACCOUNT {}` reads it back)",
            ended(n),
            super::context::counted(e.messages, "message", "messages"),
            super::context::counted(e.mailboxes, "mailbox", "mailboxes"),
            dir.display(),
            dir.display()
        );
        if e.dropped_keywords > 0 {
            message.push_str(&format!(
                "; {} keywords beyond Maildir's 26 letters were not kept",
                e.dropped_keywords
            ));
        }
    }
    Ok(Response::ok(
        message,
        json!({
            "deleted": id,
            "connections_ended": n,
            "kept_mail": keep.as_ref().map(|d| d.display().to_string()),
            "exported_messages": exported.as_ref().map(|e| e.messages),
        }),
    ))
}

/// The export directory: absolute, and new or empty.
fn check_dir(dir: &str) -> Result<PathBuf, Response> {
    let path = PathBuf::from(dir);
    if !path.is_absolute() {
        return Err(Response::fail(
            "invalid",
            format!("--keep-mail {dir}: the directory must be an absolute path"),
        ));
    }
    let occupied = std::fs::read_dir(&path).is_ok_and(|mut d| d.next().is_some());
    if occupied {
        return Err(Response::fail(
            "invalid",
            format!("--keep-mail {dir}: the directory is not empty; name a new one"),
        ));
    }
    Ok(path)
}

/// Writes every mailbox of `account` under `root` (see the module docs).
async fn export(ctx: &AdminContext, account: &str, root: &Path) -> anyhow::Result<Exported> {
    let mut done = Exported::default();
    create_private(root)?;
    for mailbox in ctx.store.list_mailboxes(account).await? {
        let dir = folder_dir(root, &mailbox.name);
        for sub in ["cur", "new", "tmp"] {
            create_private(&dir.join(sub))?;
        }
        let messages = ctx
            .store
            .messages(account, &mailbox.name, 1..=u32::MAX)
            .await?;
        let mut keywords: BTreeMap<String, char> = BTreeMap::new();
        let mut uidlist = format!("3 V{} N{}\n", mailbox.uid_validity, mailbox.uid_next);
        for m in &messages {
            let body = ctx.store.message_body(account, &m.blob).await?;
            let base = format!("{}.U{}.certmail", m.internal_date, m.uid);
            let info = info_letters(&m.flags, &mut keywords, &mut done.dropped_keywords);
            let path = dir.join("cur").join(format!("{base}:2,{info}"));
            write_message(&path, &body, m.internal_date)?;
            uidlist.push_str(&format!("{} :{base}\n", m.uid));
            done.messages += 1;
        }
        std::fs::write(dir.join("dovecot-uidlist"), uidlist)?;
        let list: String = keywords
            .iter()
            .map(|(word, letter)| format!("{} {word}\n", u32::from(*letter) - u32::from('a')))
            .collect();
        std::fs::write(dir.join("dovecot-keywords"), list)?;
        done.mailboxes += 1;
    }
    Ok(done)
}

/// `root` for INBOX, `root/.A.B` for `A/B` (levels in modified UTF-7; a `.` inside a
/// level would split it, so it becomes `_`, as import-maildir turns `/` into `_`).
fn folder_dir(root: &Path, mailbox: &str) -> PathBuf {
    if mailbox.eq_ignore_ascii_case("INBOX") {
        return root.to_path_buf();
    }
    let levels: Vec<String> = mailbox
        .split('/')
        .map(|l| certmail_imap::proto::mailbox_name::encode_utf7(&l.replace('.', "_")))
        .collect();
    root.join(format!(".{}", levels.join(".")))
}

/// The Maildir info letters of `flags`: system flags in capitals, keywords as the letters
/// `a`–`z` they are given in `keywords` (first come, first lettered).
fn info_letters(
    flags: &[String],
    keywords: &mut BTreeMap<String, char>,
    dropped: &mut u64,
) -> String {
    let mut letters: Vec<char> = Vec::new();
    for f in flags {
        if let Some((_, l)) = FLAG_LETTERS.iter().find(|(n, _)| n.eq_ignore_ascii_case(f)) {
            letters.push(*l);
        } else if !f.starts_with('\\') {
            let next = u8::try_from(keywords.len()).ok().filter(|n| *n < 26);
            match keywords.get(f).copied() {
                Some(l) => letters.push(l),
                None => match next {
                    Some(n) => {
                        let l = char::from(b'a' + n);
                        keywords.insert(f.clone(), l);
                        letters.push(l);
                    }
                    None => *dropped += 1,
                },
            }
        }
    }
    letters.sort_unstable();
    letters.dedup();
    letters.into_iter().collect()
}

/// A directory only its owner can read.
fn create_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Creates `path` (which must not exist) readable by its owner only, with `bytes`, on
/// disk before it returns. Also writes `certmail dkim keygen`'s keys.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(f)
}

/// Writes one message file (mode 0600) with INTERNALDATE as its modification time.
fn write_message(path: &Path, body: &[u8], internal_date: i64) -> std::io::Result<()> {
    let f = write_private(path, body)?;
    let when = std::time::UNIX_EPOCH
        + std::time::Duration::from_secs(u64::try_from(internal_date).unwrap_or(0));
    f.set_modified(when)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_sorted_info_letters_and_keywords_get_letters() {
        let mut kw = BTreeMap::new();
        let mut dropped = 0;
        let flags = ["\\Seen", "$Forwarded", "\\Answered", "$MDNSent"].map(String::from);
        assert_eq!(info_letters(&flags, &mut kw, &mut dropped), "RSab");
        assert_eq!(kw.get("$Forwarded"), Some(&'a'));
        let again = ["$MDNSent".to_string()];
        assert_eq!(info_letters(&again, &mut kw, &mut dropped), "b");
        assert_eq!(dropped, 0);
    }

    #[test]
    fn folders_are_maildir_plus_plus_names_that_import_reads_back() {
        let root = Path::new("/m");
        assert_eq!(folder_dir(root, "INBOX"), PathBuf::from("/m"));
        let dir = folder_dir(root, "업무/결재");
        let name = dir.file_name().unwrap().to_str().unwrap();
        assert_eq!(
            crate::cli::import_maildir::folder_name(name.trim_start_matches('.')),
            Some("업무/결재".to_string())
        );
    }
}
