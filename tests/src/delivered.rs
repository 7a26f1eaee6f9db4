//! What the daemon delivered, read from its store (open it after the daemon stopped: sled
//! has one owner), and the dates the vacation tests give the CLI and the web.

use certmail_store::Store;

/// The raw messages of `account`'s INBOX, in order.
pub async fn messages(store: &dyn Store, account: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    messages_in(store, account, "INBOX").await
}

/// The raw messages of `account`'s `mailbox`, in order.
pub async fn messages_in(
    store: &dyn Store,
    account: &str,
    mailbox: &str,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for m in store.messages(account, mailbox, 1..=u32::MAX).await? {
        out.push(store.message_body(account, &m.blob).await?);
    }
    Ok(out)
}

/// The subjects of `account`'s `mailbox` messages, in order.
pub async fn subjects_in(
    store: &dyn Store,
    account: &str,
    mailbox: &str,
) -> anyhow::Result<Vec<String>> {
    Ok(messages_in(store, account, mailbox)
        .await?
        .iter()
        .map(|m| subject(m))
        .collect())
}

/// The subjects of `account`'s INBOX messages, in order.
pub async fn inbox_subjects(store: &dyn Store, account: &str) -> anyhow::Result<Vec<String>> {
    subjects_in(store, account, "INBOX").await
}

/// A message's decoded subject (empty when it has none).
pub fn subject(raw: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse(raw)
        .and_then(|m| m.subject().map(str::to_owned))
        .unwrap_or_default()
}

/// `YYYY-MM-DD` of today plus `days`, UTC.
pub fn day(days: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let d = mail_parser::DateTime::from_timestamp(now + days * 86_400);
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}
