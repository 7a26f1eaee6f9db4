//! Randomised operation sequences checked against a simple in-memory model of two mailboxes:
//! UIDs, flags, counts, sizes, MODSEQ order and bodies must always agree.

mod common;

use std::collections::BTreeMap;

use certmail_store::{FlagOp, Store};
use common::{TestStore, body, hong, message};

/// A small deterministic generator (xorshift64*), so a failure names its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const BOXES: [&str; 2] = ["INBOX", "보관"];
const FLAGS: [&str; 3] = ["\\Seen", "\\Deleted", "중요"];

/// Model of one mailbox: UID → (message number, flags).
#[derive(Default)]
struct ModelBox {
    uid_next: u32,
    messages: BTreeMap<u32, (u32, Vec<String>)>,
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort_by_key(|f| f.to_lowercase());
    v.dedup();
    v
}

async fn step(s: &dyn Store, rng: &mut Rng, model: &mut [ModelBox; 2], next_msg: &mut u32) {
    let b = rng.below(2) as usize;
    let uids: Vec<u32> = model[b]
        .messages
        .keys()
        .copied()
        .filter(|_| rng.below(2) == 0)
        .collect();
    match rng.below(5) {
        0 | 1 => {
            *next_msg += 1;
            let (_, uid, _) = s
                .append("hong", BOXES[b], message(*next_msg))
                .await
                .unwrap();
            assert_eq!(uid, model[b].uid_next);
            model[b].uid_next += 1;
            model[b].messages.insert(uid, (*next_msg, vec![]));
        }
        2 => {
            let flag = FLAGS[rng.below(3) as usize].to_string();
            let add = rng.below(2) == 0;
            let op = if add { FlagOp::Add } else { FlagOp::Remove };
            s.set_flags(
                "hong",
                BOXES[b],
                &uids,
                op,
                std::slice::from_ref(&flag),
                None,
            )
            .await
            .unwrap();
            for uid in &uids {
                let flags = &mut model[b].messages.get_mut(uid).unwrap().1;
                flags.retain(|f| *f != flag);
                if add {
                    flags.push(flag.clone());
                }
                *flags = sorted(std::mem::take(flags));
            }
        }
        3 => {
            let gone = s.expunge("hong", BOXES[b], None).await.unwrap();
            let expected: Vec<u32> = model[b]
                .messages
                .iter()
                .filter(|(_, (_, f))| f.iter().any(|f| f == "\\Deleted"))
                .map(|(uid, _)| *uid)
                .collect();
            assert_eq!(gone, expected);
            model[b].messages.retain(|uid, _| !gone.contains(uid));
        }
        _ => {
            let to = 1 - b;
            let moving = rng.below(2) == 0;
            let (_, pairs) = if moving {
                s.move_messages("hong", BOXES[b], &uids, BOXES[to])
                    .await
                    .unwrap()
            } else {
                s.copy("hong", BOXES[b], &uids, BOXES[to]).await.unwrap()
            };
            assert_eq!(pairs.len(), uids.len());
            for (old, new) in pairs {
                assert_eq!(new, model[to].uid_next);
                model[to].uid_next += 1;
                let entry = if moving {
                    model[b].messages.remove(&old).unwrap()
                } else {
                    model[b].messages[&old].clone()
                };
                model[to].messages.insert(new, entry);
            }
        }
    }
}

async fn check(s: &dyn Store, model: &[ModelBox; 2]) {
    let mut usage = 0;
    for (b, name) in BOXES.iter().enumerate() {
        let mbox = s.mailbox("hong", name).await.unwrap().unwrap();
        let stored = s.messages("hong", name, 1..=u32::MAX).await.unwrap();
        assert_eq!(mbox.uid_next, model[b].uid_next);
        assert_eq!(mbox.exists as usize, model[b].messages.len());
        let got: Vec<(u32, Vec<String>)> =
            stored.iter().map(|m| (m.uid, m.flags.clone())).collect();
        let want: Vec<(u32, Vec<String>)> = model[b]
            .messages
            .iter()
            .map(|(uid, (_, f))| (*uid, f.clone()))
            .collect();
        assert_eq!(got, want, "{name}");
        assert!(stored.iter().all(|m| m.modseq <= mbox.highest_modseq));
        let size: u64 = model[b]
            .messages
            .values()
            .map(|(n, _)| body(*n).len() as u64)
            .sum();
        assert_eq!(mbox.size, size);
        usage += size;
        for m in &stored {
            let n = model[b].messages[&m.uid].0;
            assert_eq!(s.message_body("hong", &m.blob).await.unwrap(), body(n));
        }
    }
    assert_eq!(s.account_usage("hong").await.unwrap(), usage);
}

#[tokio::test]
async fn random_operations_match_the_model() {
    for seed in [1u64, 7, 42, 2024, 0x5eed] {
        let ts = TestStore::new().await;
        ts.store.create_account(hong()).await.unwrap();
        ts.store
            .create_mailbox("hong", BOXES[1], None)
            .await
            .unwrap();
        let mut model = [
            ModelBox {
                uid_next: 1,
                ..Default::default()
            },
            ModelBox {
                uid_next: 1,
                ..Default::default()
            },
        ];
        let mut rng = Rng(seed);
        let mut next_msg = 0;
        for _ in 0..60 {
            step(ts.store.as_ref(), &mut rng, &mut model, &mut next_msg).await;
        }
        check(ts.store.as_ref(), &model).await;
        // The same state after a reopen.
        let ts = ts.reopen().await;
        check(ts.store.as_ref(), &model).await;
    }
}
