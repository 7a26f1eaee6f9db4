//! Admin requests about aliases and distribution lists: `certmail alias set|remove|list`.

use serde_json::json;

use super::Response;
use super::context::{AdminContext, counted};

/// `alias set`: creates or replaces an alias whose members are all known accounts or
/// addresses.
pub(super) async fn set(
    ctx: &AdminContext,
    address: &str,
    members: &[String],
) -> anyhow::Result<Response> {
    let store = &ctx.store;
    let address = address.trim().to_lowercase();
    if !address.contains('@') || members.is_empty() {
        return Ok(Response::fail(
            "invalid",
            "give the alias address and at least one member (account id or address)",
        ));
    }
    if store.account_by_address(&address).await?.is_some() {
        return Ok(Response::fail(
            "exists",
            format!("{address} is already an account's address"),
        ));
    }
    let mut resolved = Vec::new();
    for m in members {
        let m = m.trim().to_lowercase();
        if !known_member(ctx, &m).await? {
            return Ok(Response::fail(
                "not_found",
                format!("{m} is neither an account nor a known address"),
            ));
        }
        resolved.push(m);
    }
    let n = resolved.len();
    store
        .set_alias(certmail_store::Alias {
            address: address.clone(),
            members: resolved,
        })
        .await?;
    Ok(Response::ok(
        format!("alias {address} delivers to {n} members"),
        serde_json::Value::Null,
    ))
}

/// Whether `member` (lower case) is an account id, an account's address or an alias.
async fn known_member(ctx: &AdminContext, member: &str) -> anyhow::Result<bool> {
    let store = &ctx.store;
    Ok(if member.contains('@') {
        store.account_by_address(member).await?.is_some() || store.alias(member).await?.is_some()
    } else {
        store.account(member).await?.is_some()
    })
}

/// `alias remove`.
pub(super) async fn remove(ctx: &AdminContext, address: &str) -> anyhow::Result<Response> {
    match ctx.store.remove_alias(&address.trim().to_lowercase()).await {
        Ok(()) => Ok(Response::ok(
            format!("alias {address} removed"),
            serde_json::Value::Null,
        )),
        Err(certmail_store::StoreError::AliasNotFound(_)) => {
            Ok(Response::fail("not_found", format!("no alias {address}")))
        }
        Err(e) => Err(e.into()),
    }
}

/// `alias list`.
pub(super) async fn list(ctx: &AdminContext) -> anyhow::Result<Response> {
    let list: Vec<_> = ctx
        .store
        .list_aliases()
        .await?
        .into_iter()
        .map(|a| json!({ "address": a.address, "members": a.members }))
        .collect();
    Ok(Response::ok(
        counted(list.len() as u64, "alias", "aliases"),
        json!({ "aliases": list }),
    ))
}
