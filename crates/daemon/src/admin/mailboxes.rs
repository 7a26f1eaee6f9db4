//! Admin requests about shared mailboxes: `certmail mailbox share ACCOUNT/MAILBOX --to ID
//! --rights RIGHTS` (or `--revoke`), the RFC 4314 ACL of one mailbox. The request is
//! audited like every change (`service::execute`); the people it concerns see the change
//! at their next command, since IMAP reads the ACL each time.

use certmail_store::acl::{AclChange, AclUpdate, RightsChange, cap_refusal, normalize_identifier};
use certmail_store::{Rights, StoreError};
use serde_json::json;

use super::Response;
use super::context::AdminContext;

/// `mailbox share`: sets (or, with `revoke`, removes) what `to` may do on the mailbox.
pub(super) async fn share(
    ctx: &AdminContext,
    target: &str,
    to: &str,
    rights: &str,
    revoke: bool,
) -> anyhow::Result<Response> {
    let Some((owner, mailbox)) = target.split_once('/') else {
        return Ok(Response::fail(
            "invalid",
            format!("{target:?}: name the mailbox as ACCOUNT/MAILBOX, e.g. hong/INBOX"),
        ));
    };
    let owner = owner.trim().to_lowercase();
    let store = &ctx.store;
    if store.account(&owner).await?.is_none() {
        return Ok(Response::fail("not_found", format!("no account {owner}")));
    }
    let identifier = match grantee(ctx, &owner, mailbox, to).await? {
        Ok(id) => id,
        Err(refusal) => return Ok(refusal),
    };
    let rights = match requested_rights(rights, revoke) {
        Ok(r) => r,
        Err(refusal) => return Ok(refusal),
    };
    let cap = ctx.max_acl_entries;
    let replace = AclChange::new(&identifier, RightsChange::Replace, rights, cap);
    let change = store.change_acl(&owner, mailbox, replace);
    match change.await {
        Ok(AclUpdate::Set(_)) => {}
        Ok(AclUpdate::Full { entries }) => {
            let name = format!("{owner}/{mailbox}");
            return Ok(Response::fail("limit", cap_refusal(entries, cap, &name)));
        }
        Err(StoreError::MailboxNotFound(_)) => {
            return Ok(Response::fail(
                "not_found",
                format!("{owner} has no mailbox {mailbox}"),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let entries: Vec<_> = store
        .acl(&owner, mailbox)
        .await?
        .into_iter()
        .map(|e| json!({ "identifier": e.identifier, "rights": e.rights.to_string() }))
        .collect();
    let message = if revoke {
        format!("{identifier} no longer has access to {owner}/{mailbox}")
    } else {
        format!(
            "{identifier} may now use {owner}/{mailbox} with rights {rights} (as Other Users/{owner}/{mailbox})"
        )
    };
    Ok(Response::ok(
        message,
        json!({ "owner": owner, "mailbox": mailbox, "acl": entries }),
    ))
}

/// Who the change is for, normalised: an existing account other than the owner,
/// `org:ORGANISATION` or `anyone`; otherwise the refusal to answer.
async fn grantee(
    ctx: &AdminContext,
    owner: &str,
    mailbox: &str,
    to: &str,
) -> anyhow::Result<Result<String, Response>> {
    let identifier = match normalize_identifier(to) {
        Ok(id) => id,
        Err(e) => return Ok(Err(Response::fail("invalid", e.to_string()))),
    };
    if identifier == owner {
        return Ok(Err(Response::fail(
            "invalid",
            format!("{owner} owns {mailbox} and always holds every right"),
        )));
    }
    if !identifier.contains(':')
        && identifier != "anyone"
        && ctx.store.account(&identifier).await?.is_none()
    {
        return Ok(Err(Response::fail(
            "not_found",
            format!("no account {identifier}; give an account id, org:ORGANISATION or anyone"),
        )));
    }
    Ok(Ok(identifier))
}

/// The rights asked for: none with `--revoke`, else a non-empty set of RFC 4314 letters.
fn requested_rights(rights: &str, revoke: bool) -> Result<Rights, Response> {
    if revoke {
        return Ok(Rights::NONE);
    }
    match Rights::parse(rights) {
        Ok(r) if !r.is_empty() => Ok(r),
        Ok(_) => Err(Response::fail(
            "invalid",
            "give --rights (letters of lrswipkxtea, e.g. lrs to read) or --revoke",
        )),
        Err(e) => Err(Response::fail("invalid", e.to_string())),
    }
}
