//! `certmail import-maildir ACCOUNT PATH`: moves a user's Dovecot Maildir into the store.
//!
//! Layout (Dovecot's default Maildir++): INBOX is `PATH/{cur,new}`; every other folder is
//! a directory `PATH/.Name` whose name joins the hierarchy with `.` (`.Work.Reports` is
//! `Work/Reports`) in IMAP modified UTF-7 (RFC 3501 §5.1.3: `.&rLDHrA-` is `결재`). A
//! message's flags are the letters after `:2,` in its file name (Maildir spec): F
//! `\Flagged`, R `\Answered`, S `\Seen`, T `\Deleted`, D `\Draft`; lowercase letters are
//! Dovecot keywords, named by the folder's `dovecot-keywords` file (`0 $Forwarded` is `a`).
//! Messages are imported in the order of Dovecot's `dovecot-uidlist` when there is one
//! (so UIDs keep their order), then by file time; INTERNALDATE is the file's mtime (what
//! Dovecot reports when it has no cached date). Top-level Sent, Drafts, Trash and Junk
//! (and the usual other spellings) go to the account's special-use mailboxes.
//!
//! Where it runs: this process (the operator, usually root) reads the Maildir, which the
//! daemon's own user normally cannot, and sends each message to the running daemon over
//! the admin socket, so the import works on a live system and connected clients see new
//! mail at once; with the daemon stopped it writes to the store directly. Not idempotent:
//! a second run imports every message again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::json;

use crate::admin::{Request, Response};
use crate::cli::args::ImportArgs;
use crate::cli::link::AdminLink;

/// One folder of the Maildir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// Its directory (holding cur/ and new/).
    pub dir: PathBuf,
    /// Its mailbox name in the store, `/`-delimited.
    pub mailbox: String,
    /// The RFC 6154 special use it maps to.
    pub special_use: Option<&'static str>,
}

/// One message file.
#[derive(Debug, Clone)]
struct MaildirMessage {
    path: PathBuf,
    flags: Vec<String>,
    internal_date: i64,
    /// (dovecot-uidlist UID or u32::MAX, mtime, file name): the import order.
    order: (u32, i64, String),
}

/// Runs the import; returns the exit code.
pub fn run(config_path: &Path, args: ImportArgs) -> anyhow::Result<u8> {
    let config = crate::config::load(config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let resp = match folders(&args.path) {
        Err(e) => Response::fail("invalid", e),
        Ok(folders) => {
            let mut link = AdminLink::open(&config)?;
            import(&mut link, &args.account, &folders, config.append_limit())?
        }
    };
    crate::cli::output::print(&resp, args.out.json);
    Ok(crate::cli::output::exit_code(&resp))
}

/// Imports every message of `folders` into `account`; a message over `limit` bytes (the
/// effective `[imap] append_limit`, what an IMAP client could APPEND) is skipped with why.
fn import(
    link: &mut AdminLink,
    account: &str,
    folders: &[Folder],
    limit: u64,
) -> anyhow::Result<Response> {
    let mut report = Vec::new();
    let (mut imported, mut failed) = (0u64, 0u64);
    for folder in folders {
        let (mut ok, mut bad, mut stored_in) = (0u64, 0u64, folder.mailbox.clone());
        for m in messages(&folder.dir) {
            let body = match read_message(&m.path, limit) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("skipped {}: {e}", m.path.display());
                    bad += 1;
                    continue;
                }
            };
            let resp = link.call(Request::ImportMessage {
                account: account.to_string(),
                mailbox: folder.mailbox.clone(),
                special_use: folder.special_use.map(str::to_string),
                flags: m.flags.clone(),
                internal_date: m.internal_date,
                body_b64: base64::engine::general_purpose::STANDARD.encode(&body),
            })?;
            if resp.code.as_deref() == Some("not_found") {
                return Ok(resp); // no such account: nothing can be imported
            }
            if resp.ok {
                ok += 1;
                if let Some(name) = resp.data.get("mailbox").and_then(|v| v.as_str()) {
                    stored_in = name.to_string();
                }
            } else {
                eprintln!("not imported {}: {}", m.path.display(), resp.message);
                bad += 1;
            }
        }
        report.push(json!({
            "folder": folder.dir.display().to_string(),
            "mailbox": stored_in,
            "imported": ok,
            "failed": bad,
        }));
        imported += ok;
        failed += bad;
    }
    let message = format!(
        "{imported} messages imported into {account} from {} folders{}",
        folders.len(),
        if failed > 0 {
            format!("; {failed} failed (see above)")
        } else {
            String::new()
        }
    );
    let data = json!({ "imported": imported, "failed": failed, "folders": report });
    Ok(if failed == 0 {
        Response::ok(message, data)
    } else {
        Response {
            ok: false,
            code: Some("partial".into()),
            message,
            data,
        }
    })
}

/// The message file at `path`, unless it is larger than `limit` bytes.
fn read_message(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len > limit {
        return Err(format!(
            "{len} bytes, over [imap] append_limit ({limit} bytes; its default is [smtp] \
             max_message_size): raise it in the configuration to import this message"
        ));
    }
    std::fs::read(path).map_err(|e| e.to_string())
}

/// INBOX and every `.Folder` directory of the Maildir at `root`, INBOX first.
pub fn folders(root: &Path) -> Result<Vec<Folder>, String> {
    if !root.join("cur").is_dir() && !root.join("new").is_dir() {
        return Err(format!(
            "{} is not a Maildir (it has no cur/ or new/ directory)",
            root.display()
        ));
    }
    let mut out = vec![Folder {
        dir: root.to_path_buf(),
        mailbox: "INBOX".into(),
        special_use: None,
    }];
    let entries = std::fs::read_dir(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(encoded) = name.strip_prefix('.') else {
            continue;
        };
        let dir = entry.path();
        if encoded.is_empty() || !(dir.join("cur").is_dir() || dir.join("new").is_dir()) {
            continue;
        }
        let Some(mailbox) = folder_name(encoded) else {
            eprintln!("skipped folder {name}: its name is not modified UTF-7");
            continue;
        };
        let special_use = special_use_of(&mailbox);
        found.push(Folder {
            dir,
            mailbox,
            special_use,
        });
    }
    found.sort_by(|a, b| a.mailbox.cmp(&b.mailbox));
    out.extend(found);
    Ok(out)
}

/// A Maildir++ folder directory name (without its leading `.`) as a mailbox name:
/// components split at `.`, each decoded from modified UTF-7.
pub fn folder_name(encoded: &str) -> Option<String> {
    let parts: Option<Vec<String>> = encoded
        .split('.')
        .map(|p| decode_mutf7(p).map(|s| s.replace('/', "_")))
        .collect();
    let parts = parts?;
    if parts.iter().any(String::is_empty) {
        return None;
    }
    // Dovecot may name INBOX's children `.INBOX.x`; INBOX itself is matched
    // case-insensitively (RFC 3501 §5.1).
    let mut name = parts.join("/");
    let inbox_first = name
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("INBOX"))
        && matches!(name.as_bytes().get(5), None | Some(b'/'));
    if inbox_first {
        name.replace_range(..5, "INBOX");
    }
    Some(name)
}

/// The special use of a top-level folder by its usual names.
pub fn special_use_of(mailbox: &str) -> Option<&'static str> {
    Some(match mailbox.to_lowercase().as_str() {
        "sent" | "sent messages" | "sent items" | "sent mail" => "\\Sent",
        "drafts" | "draft" => "\\Drafts",
        "trash" | "deleted messages" | "deleted items" => "\\Trash",
        "junk" | "spam" | "junk e-mail" => "\\Junk",
        _ => return None,
    })
}

/// IMAP modified UTF-7 (RFC 3501 §5.1.3) to UTF-8; `None` if malformed.
pub fn decode_mutf7(text: &str) -> Option<String> {
    use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
    let engine = GeneralPurpose::new(
        &base64::alphabet::IMAP_MUTF7,
        GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    let mut out = String::new();
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find('-')?;
        let chunk = &after[..end];
        if chunk.is_empty() {
            out.push('&');
        } else {
            let bytes = engine.decode(chunk).ok()?;
            if bytes.len() % 2 != 0 {
                return None;
            }
            let units = bytes.chunks(2).map(|p| u16::from_be_bytes([p[0], p[1]]));
            out.extend(
                char::decode_utf16(units)
                    .collect::<Result<Vec<char>, _>>()
                    .ok()?,
            );
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The IMAP flags of a Maildir file name (`…:2,FRS` plus Dovecot keyword letters).
pub fn flags_of(file_name: &str, keywords: &HashMap<char, String>) -> Vec<String> {
    let Some((_, info)) = file_name.rsplit_once(":2,") else {
        return Vec::new();
    };
    let mut flags = Vec::new();
    for c in info.chars() {
        let flag = match c {
            'F' => "\\Flagged",
            'R' => "\\Answered",
            'S' => "\\Seen",
            'T' => "\\Deleted",
            'D' => "\\Draft",
            'a'..='z' => match keywords.get(&c) {
                Some(k) => k.as_str(),
                None => continue,
            },
            _ => continue, // P (passed) has no IMAP flag
        };
        if !flags.iter().any(|f| f == flag) {
            flags.push(flag.to_string());
        }
    }
    flags
}

/// `dovecot-keywords`: lines `N keyword`, N 0..25 naming the letters a..z.
fn keywords(dir: &Path) -> HashMap<char, String> {
    let text = std::fs::read_to_string(dir.join("dovecot-keywords")).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (n, word) = line.trim().split_once(' ')?;
            let n: u8 = n.parse().ok().filter(|n| *n < 26)?;
            let word = word.trim();
            // An IMAP keyword is an atom (RFC 3501 §9 flag-keyword).
            let atom = !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_graphic() && !"(){%*\"\\]".contains(c));
            atom.then(|| (char::from(b'a' + n), word.to_string()))
        })
        .collect()
}

/// `dovecot-uidlist`: base file name → UID (the header line and unknown lines ignored).
fn uidlist(dir: &Path) -> HashMap<String, u32> {
    let text = std::fs::read_to_string(dir.join("dovecot-uidlist")).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let (uid, rest) = line.split_once(' ')?;
            let uid: u32 = uid.parse().ok()?;
            // v3: `UID [ext fields] :filename`; v1: `UID filename`.
            let name = match rest.rsplit_once(" :") {
                Some((_, n)) => n,
                None => rest.strip_prefix(':').unwrap_or(rest),
            };
            Some((base_name(name).to_string(), uid))
        })
        .collect()
}

/// A Maildir file name without its `:2,…` info part.
fn base_name(file_name: &str) -> &str {
    file_name.split(':').next().unwrap_or(file_name)
}

/// The folder's messages (new/ and cur/) in import order.
fn messages(dir: &Path) -> Vec<MaildirMessage> {
    let keywords = keywords(dir);
    let uids = uidlist(dir);
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() || name.starts_with('.') {
                continue;
            }
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs() as i64);
            let uid = uids.get(base_name(&name)).copied().unwrap_or(u32::MAX);
            out.push(MaildirMessage {
                path: entry.path(),
                flags: if sub == "new" {
                    Vec::new()
                } else {
                    flags_of(&name, &keywords)
                },
                internal_date: mtime,
                order: (uid, mtime, name),
            });
        }
    }
    out.sort_by(|a, b| a.order.cmp(&b.order));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_utf7_names_decode() {
        assert_eq!(decode_mutf7("&rLDHrA-").as_deref(), Some("결재"));
        assert_eq!(decode_mutf7("&ycDG0A-").as_deref(), Some("지원"));
        assert_eq!(
            decode_mutf7("&vPSwuNO4ycDVaA-").as_deref(),
            Some("보낸편지함")
        );
        assert_eq!(decode_mutf7("R&AOk-sum&AOk-").as_deref(), Some("Résumé"));
        assert_eq!(decode_mutf7("A&-B").as_deref(), Some("A&B"));
        assert_eq!(decode_mutf7("plain").as_deref(), Some("plain"));
        assert_eq!(decode_mutf7("&ycDG0A"), None, "unterminated");
        assert_eq!(decode_mutf7("&AGE"), None);
    }

    #[test]
    fn maildir_plus_plus_folders_map_to_mailboxes() {
        assert_eq!(folder_name("Work.Reports").as_deref(), Some("Work/Reports"));
        assert_eq!(
            folder_name("&vPSwuNO4ycDVaA-.2026").as_deref(),
            Some("보낸편지함/2026")
        );
        assert_eq!(folder_name("inbox.Sub").as_deref(), Some("INBOX/Sub"));
        assert_eq!(folder_name("Inboxes").as_deref(), Some("Inboxes"));
        assert_eq!(folder_name("a..b"), None);
        assert_eq!(special_use_of("Sent Messages"), Some("\\Sent"));
        assert_eq!(special_use_of("Junk"), Some("\\Junk"));
        assert_eq!(special_use_of("Work/Sent"), None);
    }

    #[test]
    fn info_suffix_letters_become_flags() {
        let mut kw = HashMap::new();
        kw.insert('a', "$Forwarded".to_string());
        let name = "1795305600.M1P2.mail.test.go.kr,S=120,W=124:2,FRSTDab";
        assert_eq!(
            flags_of(name, &kw),
            [
                "\\Flagged",
                "\\Answered",
                "\\Seen",
                "\\Deleted",
                "\\Draft",
                "$Forwarded"
            ]
        );
        assert!(flags_of("1795305600.M1P2.host", &kw).is_empty());
        assert_eq!(
            base_name(name),
            "1795305600.M1P2.mail.test.go.kr,S=120,W=124"
        );
    }
}
