//! Conformance checks: accounts, certificate bindings and aliases.

use crate::{AccountState, Alias, CertBinding, INBOX, StoreError};

use super::{Fixture, assert_stored_bodies, binding, hong, kim};

/// Accounts are created and found by id and address, case-insensitively, with an INBOX.
pub async fn create_and_look_up_accounts(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    let a = s.account("hong").await.unwrap().expect("created");
    assert_eq!(
        (a.id.as_str(), a.name.as_str()),
        ("hong", "홍길동"),
        "ids are lowercased"
    );
    assert_eq!(a.addresses, ["hong@example.kr", "gildong@example.kr"]);
    assert_eq!(a.organisation, "행정안전부");
    assert_eq!(s.account("HONG").await.unwrap().as_ref(), Some(&a));
    let by_address = s.account_by_address("GilDong@Example.KR").await.unwrap();
    assert_eq!(by_address.map(|a| a.id).as_deref(), Some("hong"));
    assert!(
        s.account_by_address("nobody@example.kr")
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.account("nobody").await.unwrap().is_none());
    let boxes = s.list_mailboxes("hong").await.unwrap();
    assert_eq!(boxes.len(), 1, "every account starts with INBOX");
    assert_eq!(boxes[0].name, INBOX);
    assert!(boxes[0].subscribed);
    let err = s
        .create_account(crate::Account::new("bad id", "x", vec![], 1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidAccount { .. }), "{err}");
}

/// Duplicate ids and addresses are refused, and nothing is half-created.
pub async fn duplicate_ids_and_addresses_are_refused(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    let again = s.create_account(hong()).await.unwrap_err();
    assert!(
        matches!(again, StoreError::AccountExists(ref id) if id == "hong"),
        "{again}"
    );
    let mut thief = kim();
    thief.addresses.push("HONG@example.kr".into());
    let taken = s.create_account(thief).await.unwrap_err();
    assert!(
        matches!(taken, StoreError::AddressTaken(ref a) if a == "hong@example.kr"),
        "{taken}"
    );
    assert!(taken.is_user_error());
    assert!(
        s.account("kim").await.unwrap().is_none(),
        "nothing half-created"
    );
    assert!(s.list_mailboxes("kim").await.unwrap().is_empty());
}

/// An update moves addresses and keeps secrets.
pub async fn update_moves_addresses_and_keeps_secrets(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.create_account(kim()).await.unwrap();
    let mut a = s.account("hong").await.unwrap().unwrap();
    a.addresses = vec!["hong@example.kr".into(), "gd.hong@example.kr".into()];
    a.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
    a.totp_secret = Some(b"12345678901234567890".to_vec());
    a.state = AccountState::Locked;
    a.failed_logins = 5;
    s.update_account(a.clone()).await.unwrap();
    assert_eq!(s.account("hong").await.unwrap(), Some(a));
    assert!(
        s.account_by_address("gildong@example.kr")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.account_by_address("gd.hong@example.kr")
            .await
            .unwrap()
            .is_some()
    );
    let mut k = s.account("kim").await.unwrap().unwrap();
    k.addresses.push("gd.hong@example.kr".into());
    let err = s.update_account(k).await.unwrap_err();
    assert!(matches!(err, StoreError::AddressTaken(_)), "{err}");
    let mut ghost = kim();
    ghost.id = "ghost".into();
    ghost.addresses.clear();
    assert!(matches!(
        s.update_account(ghost).await,
        Err(StoreError::AccountNotFound(_))
    ));
}

/// Accounts are listed, and deleted with everything they own.
pub async fn list_and_delete_accounts(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(kim()).await.unwrap();
    s.create_account(hong()).await.unwrap();
    let ids: Vec<_> = s
        .list_accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(ids, ["hong", "kim"]);
    s.create_mailbox("hong", "Archive/2024", None)
        .await
        .unwrap();
    s.append("hong", "INBOX", super::message(1)).await.unwrap();
    s.append("hong", "Archive/2024", super::message(2))
        .await
        .unwrap();
    s.bind_cert(binding("hong", 7, "CN=홍길동")).await.unwrap();
    s.delete_account("hong").await.unwrap();
    assert!(s.account("hong").await.unwrap().is_none());
    assert!(
        s.account_by_address("hong@example.kr")
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.list_mailboxes("hong").await.unwrap().is_empty());
    assert!(s.binding_by_spki(&[7; 32]).await.unwrap().is_none());
    assert_eq!(s.account_usage("hong").await.unwrap(), 0);
    assert_stored_bodies(t, 0, "bodies freed with the account").await;
    assert!(matches!(
        s.delete_account("hong").await,
        Err(StoreError::AccountNotFound(_))
    ));
    let mut new_hong = hong();
    new_hong.id = "hong2".into();
    s.create_account(new_hong)
        .await
        .expect("the addresses are free again");
}

/// Certificate bindings by key, account and DN.
pub async fn cert_bindings_by_spki_account_and_dn(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.create_account(kim()).await.unwrap();
    let b1 = binding("hong", 1, "CN=홍길동(Hong Gildong)001");
    let b2 = binding("hong", 2, "CN=홍길동(Hong Gildong)001");
    s.bind_cert(b1.clone()).await.unwrap();
    s.bind_cert(b2.clone()).await.unwrap();
    assert_eq!(s.binding_by_spki(&[1; 32]).await.unwrap(), Some(b1.clone()));
    assert_eq!(
        s.bindings_of("hong").await.unwrap(),
        [b1.clone(), b2.clone()]
    );
    assert_eq!(
        s.bindings_by_dn(&b1.issuer_dn, &b1.subject_dn)
            .await
            .unwrap(),
        [b1.clone(), b2.clone()]
    );
    assert!(
        s.bindings_by_dn(&b1.issuer_dn, "CN=김철수")
            .await
            .unwrap()
            .is_empty()
    );
    let err = s
        .bind_cert(binding("kim", 1, "CN=김철수"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::CertBoundElsewhere { ref account } if account == "hong"),
        "{err}"
    );
    let renewed = CertBinding {
        subject_dn: "CN=홍길동 renewed".into(),
        ..b1.clone()
    };
    s.bind_cert(renewed.clone()).await.unwrap();
    assert_eq!(
        s.bindings_by_dn(&b1.issuer_dn, &b1.subject_dn)
            .await
            .unwrap(),
        std::slice::from_ref(&b2),
        "rebinding updates the DN index"
    );
    assert_eq!(s.binding_by_spki(&[1; 32]).await.unwrap(), Some(renewed));
    assert!(matches!(
        s.unbind_cert("kim", &[2; 32]).await,
        Err(StoreError::BindingNotFound)
    ));
    s.unbind_cert("hong", &[2; 32]).await.unwrap();
    assert!(s.binding_by_spki(&[2; 32]).await.unwrap().is_none());
    assert_eq!(s.bindings_of("hong").await.unwrap().len(), 1);
    assert!(
        s.bindings_by_dn(&b1.issuer_dn, &b1.subject_dn)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        s.bind_cert(binding("nobody", 9, "CN=x")).await,
        Err(StoreError::AccountNotFound(_))
    ));
}

/// Aliases share the address space with accounts.
pub async fn aliases(t: &dyn Fixture) {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    let team = Alias {
        address: "Team@Example.kr".into(),
        members: vec!["hong".into(), "kim@example.kr".into()],
    };
    s.set_alias(team).await.unwrap();
    let got = s.alias("team@example.kr").await.unwrap().expect("alias");
    assert_eq!(got.address, "team@example.kr");
    assert_eq!(got.members, ["hong", "kim@example.kr"]);
    let replaced = Alias {
        address: "team@example.kr".into(),
        members: vec!["hong".into()],
    };
    s.set_alias(replaced.clone()).await.unwrap();
    assert_eq!(s.alias("TEAM@example.kr").await.unwrap(), Some(replaced));
    let err = s
        .set_alias(Alias {
            address: "hong@example.kr".into(),
            members: vec![],
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AddressTaken(_)), "{err}");
    let mut k = kim();
    k.addresses.push("team@example.kr".into());
    assert!(matches!(
        s.create_account(k).await,
        Err(StoreError::AddressTaken(_))
    ));
    assert_eq!(s.list_aliases().await.unwrap().len(), 1);
    s.remove_alias("TEAM@example.kr").await.unwrap();
    assert!(s.alias("team@example.kr").await.unwrap().is_none());
    assert!(matches!(
        s.remove_alias("team@example.kr").await,
        Err(StoreError::AliasNotFound(_))
    ));
}
