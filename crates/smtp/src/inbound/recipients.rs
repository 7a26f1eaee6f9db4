//! Who a recipient address is: a local account, a local alias, a remote address, or nobody.

use certmail_store::{Account, Store, StoreError};

/// Where a recipient's copy goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Local accounts (one for an address, several for an alias or list).
    Local(Vec<String>),
    /// A remote address, for the outbound queue.
    Remote(String),
}

/// Why a recipient was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unknown {
    /// A local domain with no such mailbox.
    NoSuchUser,
    /// Not a local domain and the client may not relay.
    Relay,
    /// The address is malformed.
    BadAddress,
}

/// Lowercase domain part of an address.
pub fn domain_of(address: &str) -> Option<String> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

/// Resolves `address`. Aliases may name accounts or addresses (one level of nesting is
/// followed, which covers a list of lists without loops).
pub async fn resolve(
    store: &dyn Store,
    local_domains: &[String],
    address: &str,
    may_relay: bool,
) -> Result<Result<Target, Unknown>, StoreError> {
    let Some(domain) = domain_of(address) else {
        return Ok(Err(Unknown::BadAddress));
    };
    if !local_domains.contains(&domain) {
        return Ok(if may_relay {
            Ok(Target::Remote(address.to_string()))
        } else {
            Err(Unknown::Relay)
        });
    }
    let addr = address.to_lowercase();
    if let Some(a) = store.account_by_address(&addr).await? {
        return Ok(Ok(Target::Local(vec![a.id])));
    }
    if let Some(alias) = store.alias(&addr).await? {
        let mut accounts = Vec::new();
        for m in &alias.members {
            for id in expand_member(store, m, 1).await? {
                if !accounts.contains(&id) {
                    accounts.push(id);
                }
            }
        }
        if !accounts.is_empty() {
            return Ok(Ok(Target::Local(accounts)));
        }
    }
    Ok(Err(Unknown::NoSuchUser))
}

async fn expand_member(
    store: &dyn Store,
    member: &str,
    depth: u8,
) -> Result<Vec<String>, StoreError> {
    let m = member.to_lowercase();
    if !m.contains('@') {
        return Ok(store
            .account(&m)
            .await?
            .map(|a: Account| vec![a.id])
            .unwrap_or_default());
    }
    if let Some(a) = store.account_by_address(&m).await? {
        return Ok(vec![a.id]);
    }
    let alias = if depth > 0 {
        store.alias(&m).await?
    } else {
        None
    };
    if let Some(alias) = alias {
        let mut out = Vec::new();
        for inner in &alias.members {
            out.extend(Box::pin(expand_member(store, inner, depth - 1)).await?);
        }
        return Ok(out);
    }
    Ok(Vec::new())
}
