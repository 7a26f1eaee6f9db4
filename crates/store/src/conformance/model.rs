//! Random operation sequences (append, flags, expunge, copy, move over two mailboxes)
//! checked against a plain in-memory model after every sequence: UIDs, flags, counts,
//! sizes, bodies, MODSEQ bounds, and the number of bodies physically stored (one per
//! distinct content still referenced).

use std::collections::{BTreeMap, BTreeSet};

use crate::{FlagOp, MailQuota, Store};

use super::{Fixture, assert_stored_bodies, body, flag_change, hong, message};

const BOXES: [&str; 2] = ["INBOX", "보관"];
const FLAGS: [&str; 3] = ["\\Deleted", "\\Seen", "중요"];

/// xorshift64*: deterministic, so a failure names its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// What the store should hold after a run: its two mailboxes (see [`check`]).
pub struct Expected([Model; 2]);

/// One mailbox in the model: UIDNEXT and UID → (body number, flags as a set).
struct Model {
    uid_next: u32,
    messages: BTreeMap<u32, (u32, BTreeSet<&'static str>)>,
}

async fn step(s: &dyn Store, rng: &mut Rng, model: &mut [Model; 2], bodies: &mut u32) {
    let b = rng.below(2) as usize;
    let picked: Vec<u32> = model[b]
        .messages
        .keys()
        .copied()
        .filter(|_| rng.below(3) == 0)
        .collect();
    match rng.below(6) {
        0 | 1 => {
            // Sometimes a body seen before: single-instance storage is exercised too.
            let n = if *bodies > 0 && rng.below(3) == 0 {
                1 + rng.below(u64::from(*bodies)) as u32
            } else {
                *bodies += 1;
                *bodies
            };
            let (_, uid, _) = s.append("hong", BOXES[b], message(n)).await.unwrap();
            assert_eq!(uid, model[b].uid_next);
            model[b].uid_next += 1;
            model[b].messages.insert(uid, (n, BTreeSet::new()));
        }
        2 => {
            let flag = FLAGS[rng.below(3) as usize];
            let add = rng.below(2) == 0;
            let op = if add { FlagOp::Add } else { FlagOp::Remove };
            s.set_flags(
                "hong",
                BOXES[b],
                flag_change(&picked, op, &[flag.to_string()]),
            )
            .await
            .unwrap();
            for uid in &picked {
                let flags = &mut model[b].messages.get_mut(uid).expect("picked").1;
                if add {
                    flags.insert(flag);
                } else {
                    flags.remove(flag);
                }
            }
        }
        3 => {
            let gone = s.expunge("hong", BOXES[b], None).await.unwrap();
            let expected: Vec<u32> = model[b]
                .messages
                .iter()
                .filter(|(_, (_, f))| f.contains("\\Deleted"))
                .map(|(uid, _)| *uid)
                .collect();
            assert_eq!(gone, expected);
            model[b].messages.retain(|uid, _| !gone.contains(uid));
        }
        _ => {
            let to = 1 - b;
            let moving = rng.below(2) == 0;
            let (_, pairs) = if moving {
                s.move_messages("hong", BOXES[b], &picked, BOXES[to])
                    .await
                    .unwrap()
            } else {
                s.copy("hong", BOXES[b], &picked, BOXES[to], MailQuota::Unlimited)
                    .await
                    .unwrap()
            };
            assert_eq!(pairs.iter().map(|p| p.0).collect::<Vec<_>>(), picked);
            for (old, new) in pairs {
                assert_eq!(new, model[to].uid_next);
                model[to].uid_next += 1;
                let entry = if moving {
                    model[b].messages.remove(&old).expect("moved")
                } else {
                    model[b].messages[&old].clone()
                };
                model[to].messages.insert(new, entry);
            }
        }
    }
}

/// Checks that the store holds what the model says (also after a reopen, for a backend
/// that can reopen).
pub async fn check(t: &dyn Fixture, expected: &Expected) {
    let model = &expected.0;
    let s = t.store();
    let mut usage = 0;
    let mut distinct = BTreeSet::new();
    for (b, name) in BOXES.iter().enumerate() {
        let mbox = s.mailbox("hong", name).await.unwrap().unwrap();
        let stored = s.messages("hong", name, 1..=u32::MAX).await.unwrap();
        assert_eq!(
            (mbox.uid_next, mbox.exists as usize),
            (model[b].uid_next, model[b].messages.len())
        );
        let got: Vec<(u32, Vec<String>)> =
            stored.iter().map(|m| (m.uid, m.flags.clone())).collect();
        let mut want: Vec<(u32, Vec<String>)> = Vec::new();
        for (uid, (_, flags)) in &model[b].messages {
            let mut flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
            flags.sort_by_key(|f| f.to_lowercase());
            want.push((*uid, flags));
        }
        assert_eq!(got, want, "{name}");
        assert!(stored.iter().all(|m| m.modseq <= mbox.highest_modseq));
        assert_eq!(s.changed_since("hong", name, 0).await.unwrap(), stored);
        let size: u64 = model[b]
            .messages
            .values()
            .map(|(n, _)| body(*n).len() as u64)
            .sum();
        assert_eq!(mbox.size, size, "{name}");
        usage += size;
        for m in &stored {
            let n = model[b].messages[&m.uid].0;
            assert_eq!(s.message_body("hong", &m.blob).await.unwrap(), body(n));
            distinct.insert(n);
        }
    }
    assert_eq!(s.account_usage("hong").await.unwrap(), usage);
    assert_stored_bodies(t, distinct.len() as u64, "one body per content").await;
}

/// Runs one seeded sequence of `steps` operations on a fresh store, checking it against
/// the model as it goes; returns what the store should now hold.
pub async fn random_operations_match_the_model(
    t: &dyn Fixture,
    seed: u64,
    steps: usize,
) -> Expected {
    let s = t.store();
    s.create_account(hong()).await.unwrap();
    s.create_mailbox("hong", BOXES[1], None).await.unwrap();
    let mut expected = Expected([
        Model {
            uid_next: 1,
            messages: BTreeMap::new(),
        },
        Model {
            uid_next: 1,
            messages: BTreeMap::new(),
        },
    ]);
    let mut rng = Rng(seed);
    let mut bodies = 0;
    for i in 0..steps {
        step(s, &mut rng, &mut expected.0, &mut bodies).await;
        if i % 20 == 19 {
            check(t, &expected).await;
        }
    }
    check(t, &expected).await;
    expected
}
