//! Conformance checks: Sieve scripts (RFC 5804's model: named, one active, quotas).

use crate::{ScriptQuota, StoreError};

use super::{Fixture, hong, kim};

/// The quota the checks use: two scripts of at most 64 bytes.
const QUOTA: ScriptQuota = ScriptQuota {
    max_bytes: 64,
    max_scripts: 2,
};

const FILE_REPORTS: &str = "require \"fileinto\";\r\nfileinto \"보고서\";\r\n";

/// Scripts are stored per account, read back, replaced, listed by name, and the active one
/// is found; another account sees none of them.
pub async fn scripts_are_kept_per_account_with_one_active(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.create_account(kim()).await.unwrap();
    s.put_script("Hong", "휴가", "keep;", QUOTA).await.unwrap();
    s.put_script("hong", "보고서 분류", FILE_REPORTS, QUOTA)
        .await
        .unwrap();
    assert!(s.active_script("hong").await.unwrap().is_none());
    s.set_active_script("hong", Some("보고서 분류"))
        .await
        .unwrap();
    let active = s
        .active_script("HONG")
        .await
        .unwrap()
        .expect("one is active");
    assert_eq!(
        (active.name.as_str(), active.content.as_str()),
        ("보고서 분류", FILE_REPORTS)
    );
    assert!(active.active);
    s.put_script("hong", "보고서 분류", "discard;", QUOTA)
        .await
        .unwrap();
    let replaced = s.script("hong", "보고서 분류").await.unwrap().unwrap();
    assert_eq!(replaced.content, "discard;");
    assert!(replaced.active, "replacing keeps the script active");
    let list = s.list_scripts("hong").await.unwrap();
    let names: Vec<_> = list.iter().map(|s| (s.name.as_str(), s.active)).collect();
    assert_eq!(
        names,
        [("보고서 분류", true), ("휴가", false)],
        "ordered by name"
    );
    assert!(s.list_scripts("kim").await.unwrap().is_empty());
    assert!(s.script("kim", "휴가").await.unwrap().is_none());
    assert!(s.active_script("kim").await.unwrap().is_none());
    s.set_active_script("hong", None).await.unwrap();
    assert!(s.active_script("hong").await.unwrap().is_none());
    let missing = s.set_active_script("hong", Some("없음")).await.unwrap_err();
    assert!(
        matches!(missing, StoreError::ScriptNotFound(_)),
        "{missing}"
    );
    let nobody = s
        .put_script("nobody", "a", "keep;", QUOTA)
        .await
        .unwrap_err();
    assert!(matches!(nobody, StoreError::AccountNotFound(_)), "{nobody}");
}

/// The size and count limits refuse a script, a replacement does not count as a new one,
/// and bad names are refused; nothing refused is stored.
pub async fn script_quotas_and_names_are_enforced(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    let big = "#".repeat(65);
    let err = s.put_script("hong", "큰", &big, QUOTA).await.unwrap_err();
    assert!(
        matches!(err, StoreError::ScriptTooLarge { bytes: 65, max: 64 }),
        "{err}"
    );
    assert!(err.is_user_error());
    s.put_script("hong", "하나", "keep;", QUOTA).await.unwrap();
    s.put_script("hong", "둘", "keep;", QUOTA).await.unwrap();
    s.put_script("hong", "둘", "discard;", QUOTA).await.unwrap();
    let err = s
        .put_script("hong", "셋", "keep;", QUOTA)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::TooManyScripts { max: 2 }),
        "{err}"
    );
    for bad in ["", "줄\n바꿈"] {
        let err = s.put_script("hong", bad, "keep;", QUOTA).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidScriptName { .. }),
            "{bad:?}: {err}"
        );
    }
    let names: Vec<_> = s
        .list_scripts("hong")
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["둘", "하나"]);
}

/// Rename carries the active mark and refuses an existing name; the active script cannot
/// be deleted until deactivated; deleting the account deletes its scripts.
pub async fn rename_and_delete_scripts(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.put_script("hong", "가", FILE_REPORTS, QUOTA)
        .await
        .unwrap();
    s.put_script("hong", "나", "keep;", QUOTA).await.unwrap();
    s.set_active_script("hong", Some("가")).await.unwrap();
    let err = s.rename_script("hong", "가", "나").await.unwrap_err();
    assert!(
        matches!(err, StoreError::ScriptExists(ref n) if n == "나"),
        "{err}"
    );
    let err = s.rename_script("hong", "없음", "다").await.unwrap_err();
    assert!(matches!(err, StoreError::ScriptNotFound(_)), "{err}");
    s.rename_script("hong", "가", "다").await.unwrap();
    assert!(s.script("hong", "가").await.unwrap().is_none());
    let active = s
        .active_script("hong")
        .await
        .unwrap()
        .expect("still active");
    assert_eq!(
        (active.name.as_str(), active.content.as_str()),
        ("다", FILE_REPORTS)
    );
    let err = s.delete_script("hong", "다").await.unwrap_err();
    assert!(matches!(err, StoreError::ScriptActive(_)), "{err}");
    s.delete_script("hong", "나").await.unwrap();
    let err = s.delete_script("hong", "나").await.unwrap_err();
    assert!(matches!(err, StoreError::ScriptNotFound(_)), "{err}");
    s.set_active_script("hong", None).await.unwrap();
    s.delete_script("hong", "다").await.unwrap();
    assert!(s.list_scripts("hong").await.unwrap().is_empty());
    s.put_script("hong", "남는", "keep;", QUOTA).await.unwrap();
    s.set_active_script("hong", Some("남는")).await.unwrap();
    s.delete_account("hong").await.unwrap();
    s.create_account(hong()).await.unwrap();
    assert!(
        s.list_scripts("hong").await.unwrap().is_empty(),
        "a new account of a reused id starts without scripts"
    );
    assert!(s.active_script("hong").await.unwrap().is_none());
}
