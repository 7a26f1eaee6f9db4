//! Account lifecycle as the admin sees it: creation with validation, passwords.

use certmail_store::{Account, AccountKind, AccountState, Store};
use unicode_normalization::UnicodeNormalization as _;

use crate::error::AuthError;
use crate::password::{self, PasswordPool};

/// A new account as an admin describes it.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The login id.
    pub id: String,
    /// The person's name as on their certificate.
    pub name: String,
    /// The organisation.
    pub organisation: String,
    /// Mail addresses, the first primary.
    pub addresses: Vec<String>,
    /// Active at once instead of pending.
    pub approve: bool,
    /// A person's account or an institution's ([`AccountKind`]).
    pub kind: AccountKind,
}

/// Why an admin request about an account was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountRefusal {
    /// The id is not acceptable.
    #[error("account id `{0}` is not valid: use 1-64 lowercase letters, digits, '.', '_' or '-'")]
    BadId(String),
    /// An address is not acceptable.
    #[error("`{0}` is not a mail address (local@domain)")]
    BadAddress(String),
    /// The name is empty.
    #[error("the person's name must not be empty; give it exactly as on their certificate")]
    NoName,
    /// The id is taken.
    #[error("an account `{0}` already exists (one person, one account)")]
    Exists(String),
    /// An address belongs to another account.
    #[error("the address {0} already belongs to account {1}")]
    AddressTaken(String, String),
    /// No such account.
    #[error("no account `{0}`; `certmail account list` shows them")]
    NotFound(String),
    /// The password breaks the password rules (the sentence says which).
    #[error("password refused: {0}")]
    WeakPassword(String),
}

impl AccountRefusal {
    /// A short machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadId(_) | Self::BadAddress(_) | Self::NoName => "invalid",
            Self::Exists(_) | Self::AddressTaken(..) => "exists",
            Self::NotFound(_) => "not_found",
            Self::WeakPassword(_) => "weak_password",
        }
    }
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

fn valid_address(a: &str) -> bool {
    match a.rsplit_once('@') {
        Some((local, domain)) => {
            // A single label (`user@localhost`) is a valid domain (RFC 5321 §2.3.5); the
            // admin layer accepts it only for a local domain.
            !local.is_empty()
                && !domain.is_empty()
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
                && !a.contains(char::is_whitespace)
                && !a.contains(['<', '>', ','])
        }
        None => false,
    }
}

/// Checks an administrator-chosen password against `rules` before [`create`] or
/// [`set_password`] (generated temporary passwords are not checked: they are 16 random
/// letters and digits).
pub fn check_new_password(
    rules: &crate::policy::PasswordRules,
    id: &str,
    password: &str,
) -> Result<(), AccountRefusal> {
    match rules.check(id.trim(), password) {
        Some(why) => Err(AccountRefusal::WeakPassword(why)),
        None => Ok(()),
    }
}

/// Creates an account. With no `password`, generates a temporary one and returns it.
pub async fn create(
    store: &dyn Store,
    passwords: &PasswordPool,
    new: NewAccount,
    password: Option<String>,
    now: i64,
) -> Result<Result<(Account, Option<String>), AccountRefusal>, AuthError> {
    let id = new.id.trim().to_lowercase();
    if !valid_id(&id) {
        return Ok(Err(AccountRefusal::BadId(new.id)));
    }
    let name: String = new.name.trim().nfc().collect();
    if name.is_empty() {
        return Ok(Err(AccountRefusal::NoName));
    }
    let mut addresses = Vec::new();
    for a in &new.addresses {
        let a = a.trim().to_lowercase();
        if !valid_address(&a) {
            return Ok(Err(AccountRefusal::BadAddress(a)));
        }
        if let Some(owner) = store.account_by_address(&a).await? {
            return Ok(Err(AccountRefusal::AddressTaken(a, owner.id)));
        }
        addresses.push(a);
    }
    if store.account(&id).await?.is_some() {
        return Ok(Err(AccountRefusal::Exists(id)));
    }
    let (pw, temporary) = match password {
        Some(p) => (p, false),
        None => (password::generate(), true),
    };
    let hash = passwords.hash(crate::Secret::new(pw.clone())).await?;
    let mut account = Account {
        id,
        name,
        addresses,
        organisation: new.organisation.trim().to_string(),
        state: if new.approve {
            AccountState::Active
        } else {
            AccountState::Pending
        },
        password_hash: Some(hash),
        password_set_at: Some(now),
        password_temporary: temporary,
        totp_secret: None,
        settings: Default::default(),
        created_at: now,
        failed_logins: 0,
        locked_until: None,
    };
    account.set_kind(new.kind);
    store.create_account(account.clone()).await?;
    Ok(Ok((account, temporary.then_some(pw))))
}

/// Replaces an account's password. With none given, generates a temporary one (returned).
pub async fn set_password(
    store: &dyn Store,
    passwords: &PasswordPool,
    id: &str,
    password: Option<String>,
    now: i64,
) -> Result<Result<Option<String>, AccountRefusal>, AuthError> {
    let Some(mut account) = store.account(id).await? else {
        return Ok(Err(AccountRefusal::NotFound(id.to_string())));
    };
    let (pw, temporary) = match password {
        Some(p) => (p, false),
        None => (password::generate(), true),
    };
    account.password_hash = Some(passwords.hash(crate::Secret::new(pw.clone())).await?);
    account.password_set_at = Some(now);
    account.password_temporary = temporary;
    account.failed_logins = 0;
    store.update_account(account).await?;
    Ok(Ok(temporary.then_some(pw)))
}
