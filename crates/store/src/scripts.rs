//! Sieve scripts as the store keeps them (RFC 5804 §1.6, §2.6): per account, named, at most
//! one active; and the rules every backend applies before it stores one ([`check_name`],
//! [`ScriptQuota::check`]).

use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

/// Longest script name accepted, in characters. RFC 5804 §1.6 asks servers to accept at
/// least 128 characters and lets them refuse longer ones.
pub const MAX_SCRIPT_NAME_CHARS: usize = 128;

/// The associated data a script's text is sealed with: the record's name, so a sealed text
/// moved to another account or name fails to open.
pub fn script_aad(account: &str, name: &str) -> Vec<u8> {
    format!("script/{account}/{name}").into_bytes()
}

/// One Sieve script of one account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SieveScript {
    /// The name, as the user gave it (UTF-8, no control characters; case-sensitive).
    pub name: String,
    /// The script text (RFC 5228; UTF-8).
    pub content: String,
    /// Whether this is the account's active script: the one run at delivery.
    pub active: bool,
}

impl std::fmt::Debug for SieveScript {
    /// The content may hold a vacation message or addresses: `Debug` shows only its size.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SieveScript")
            .field("name", &self.name)
            .field("bytes", &self.content.len())
            .field("active", &self.active)
            .finish()
    }
}

impl SieveScript {
    /// A script from its sealed text (every backend stores it sealed with [`script_aad`]):
    /// `Decrypt` if the record was moved or damaged, `Corrupt` if its text is not UTF-8.
    pub fn open(
        sealer: &crate::crypto::Sealer,
        account: &str,
        name: String,
        sealed: &[u8],
        active: bool,
    ) -> Result<SieveScript> {
        let plain = sealer.open(&script_aad(account, &name), sealed)?;
        let content = String::from_utf8(plain).map_err(|_| StoreError::Corrupt {
            record: format!("script {account}/{name}"),
            reason: "script text is not UTF-8".into(),
        })?;
        Ok(SieveScript {
            name,
            content,
            active,
        })
    }
}

/// How much script space one account may use (`[sieve] max_script_size`, `max_scripts`):
/// passed to each `put_script`, so the limits follow the configuration without a store
/// migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptQuota {
    /// Largest script, in bytes of UTF-8.
    pub max_bytes: u64,
    /// Most scripts one account may hold.
    pub max_scripts: u32,
}

impl ScriptQuota {
    /// Refuses a script of `bytes` bytes, or a new one when the account already holds
    /// `existing` scripts (`replacing`: a script of that name exists and is overwritten,
    /// which does not add one).
    pub fn check(&self, bytes: u64, existing: usize, replacing: bool) -> Result<()> {
        if bytes > self.max_bytes {
            return Err(StoreError::ScriptTooLarge {
                bytes,
                max: self.max_bytes,
            });
        }
        if !replacing && existing >= self.max_scripts as usize {
            return Err(StoreError::TooManyScripts {
                max: self.max_scripts,
            });
        }
        Ok(())
    }
}

/// Refuses a script name RFC 5804 §1.6 does not allow: empty, longer than
/// [`MAX_SCRIPT_NAME_CHARS`], or holding a control character (U+0000–U+001F,
/// U+007F–U+009F), a line or paragraph separator (U+2028, U+2029).
pub fn check_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("a script name cannot be empty")
    } else if name.chars().count() > MAX_SCRIPT_NAME_CHARS {
        Some("a script name may have at most 128 characters")
    } else if name
        .chars()
        .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
    {
        Some("a script name cannot hold control characters or line breaks")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(StoreError::InvalidScriptName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_rfc_5804() {
        assert!(check_name("휴가 응답").is_ok());
        assert!(check_name(&"가".repeat(128)).is_ok());
        for bad in ["", "a\nb", "a\u{7f}", "a\u{85}", "a\u{2028}"] {
            assert!(
                matches!(check_name(bad), Err(StoreError::InvalidScriptName { .. })),
                "{bad:?}"
            );
        }
        assert!(check_name(&"가".repeat(129)).is_err());
    }

    #[test]
    fn quota_counts_new_scripts_only() {
        let q = ScriptQuota {
            max_bytes: 10,
            max_scripts: 2,
        };
        assert!(q.check(10, 1, false).is_ok());
        assert!(matches!(
            q.check(11, 0, false),
            Err(StoreError::ScriptTooLarge { bytes: 11, max: 10 })
        ));
        assert!(matches!(
            q.check(1, 2, false),
            Err(StoreError::TooManyScripts { max: 2 })
        ));
        assert!(q.check(1, 2, true).is_ok(), "replacing adds no script");
    }
}
