//! THREAD and UID THREAD (RFC 5256 §3): ORDEREDSUBJECT and REFERENCES over the messages
//! SEARCH would find ([`super::sort::candidates`]).

use std::collections::HashMap;
use std::num::NonZeroU32;

use imap_codec::imap_types::{
    core::{Charset, Tag, Vec1, Vec2},
    extensions::thread::{Thread, ThreadingAlgorithm},
    response::Data,
    search::SearchKey,
};

use super::Outcome;
use super::sort::{Candidate, candidates};
use crate::{account::SignedIn, out::Out};

/// THREAD (`uid` false: sequence numbers) or UID THREAD.
pub async fn thread(
    s: &mut SignedIn,
    out: &mut Out,
    tag: Tag<'static>,
    algorithm: &ThreadingAlgorithm<'static>,
    charset: &Charset<'static>,
    search: &Vec1<SearchKey<'static>>,
    uid: bool,
) -> Outcome {
    let references = match algorithm {
        ThreadingAlgorithm::References => true,
        ThreadingAlgorithm::OrderedSubject => false,
        ThreadingAlgorithm::Other(_) => {
            out.bad(tag, "Threading algorithm not supported");
            return Outcome::Bad;
        }
    };
    let found = match candidates(s, out, &tag, charset, search, "THREAD", true).await {
        Ok(found) => found,
        Err(outcome) => return outcome,
    };
    out.data(Data::Thread(threads(&found, references, uid)));
    out.ok(tag, None, "THREAD completed");
    Outcome::Done
}

/// The threads of `found` (in sequence order) by REFERENCES (`references`) or
/// ORDEREDSUBJECT, naming messages by UID (`uid`) or sequence number. Pure: no store.
pub fn threads(found: &[Candidate], references: bool, uid: bool) -> Vec<Thread> {
    let forest = if references {
        Forest::references(found)
    } else {
        Forest::ordered_subject(found)
    };
    let id = |m: usize| NonZeroU32::new(if uid { found[m].uid } else { found[m].seq });
    forest
        .roots
        .iter()
        .filter_map(|&r| forest.encode(r, &id))
        .collect()
}

/// A node of the thread tree: a message, or a dummy standing for a referenced message
/// that is not there.
#[derive(Debug, Clone, Default)]
struct Node {
    message: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

/// Threads as a tree of nodes (indices into `nodes`).
#[derive(Debug, Default)]
struct Forest {
    nodes: Vec<Node>,
    roots: Vec<usize>,
}

impl Forest {
    /// RFC 5256 §3 ORDEREDSUBJECT: sorted by base subject then date; each subject one
    /// thread, its first message the parent of the others; threads by their first date.
    fn ordered_subject(found: &[Candidate]) -> Forest {
        let mut order: Vec<usize> = (0..found.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&found[a], &found[b]);
            (&a.subject, a.date, a.seq).cmp(&(&b.subject, b.date, b.seq))
        });
        let mut forest = Forest::default();
        let mut current: Option<(usize, &str)> = None;
        for m in order {
            let node = forest.add(Some(m));
            match current {
                Some((root, subject)) if subject == found[m].subject => forest.link(root, node),
                _ => {
                    forest.roots.push(node);
                    current = Some((node, &found[m].subject));
                }
            }
        }
        let mut roots = std::mem::take(&mut forest.roots);
        roots.sort_by_key(|&r| forest.date_key(found, r));
        forest.roots = roots;
        forest
    }

    /// RFC 5256 §3 REFERENCES (steps 1–6).
    fn references(found: &[Candidate]) -> Forest {
        let mut forest = Forest::default();
        let mut ids: HashMap<String, usize> = HashMap::new();
        for (m, c) in found.iter().enumerate() {
            // Step 1A: the message's own node (a duplicate or missing id gets a new one).
            let node = match c.message_id.as_ref().and_then(|id| ids.get(id)) {
                Some(&n) if forest.nodes[n].message.is_none() => {
                    forest.nodes[n].message = Some(m);
                    n
                }
                _ => {
                    let n = forest.add(Some(m));
                    if let Some(id) = &c.message_id {
                        ids.entry(id.clone()).or_insert(n);
                    }
                    n
                }
            };
            // Step 1B: link the references in order, never making a loop.
            let mut previous: Option<usize> = None;
            for reference in &c.references {
                let r = *ids
                    .entry(reference.clone())
                    .or_insert_with(|| forest.add(None));
                if let Some(p) = previous
                    && forest.nodes[r].parent.is_none()
                    && !forest.is_ancestor(r, p)
                    && r != p
                {
                    forest.link(p, r);
                }
                previous = Some(r);
            }
            // Step 1C: the last reference is the parent. "Throw away the old parent and
            // use this new one": the link a earlier message's References presumed goes
            // first, even when the new one would make a loop and is not made (or there is
            // no reference at all, RFC 5256 §3 REFERENCES 1.C's note).
            forest.unlink(node);
            if let Some(p) = previous
                && !forest.is_ancestor(node, p)
            {
                forest.link(p, node);
            }
        }
        // Step 2: the root set; step 4: prune dummies.
        forest.roots = (0..forest.nodes.len())
            .filter(|&n| forest.nodes[n].parent.is_none())
            .collect();
        forest.prune();
        // Step 5 (subject grouping) and step 6 (sorting).
        forest.group_by_subject(found);
        forest.sort(found);
        forest
    }

    fn add(&mut self, message: Option<usize>) -> usize {
        self.nodes.push(Node {
            message,
            ..Node::default()
        });
        self.nodes.len() - 1
    }

    fn link(&mut self, parent: usize, child: usize) {
        self.nodes[child].parent = Some(parent);
        self.nodes[parent].children.push(child);
    }

    fn unlink(&mut self, child: usize) {
        if let Some(p) = self.nodes[child].parent.take() {
            self.nodes[p].children.retain(|&c| c != child);
        }
    }

    /// Whether `a` is `b` or one of its ancestors.
    fn is_ancestor(&self, a: usize, b: usize) -> bool {
        let mut n = Some(b);
        while let Some(x) = n {
            if x == a {
                return true;
            }
            n = self.nodes[x].parent;
        }
        false
    }

    /// Step 4: dummies without children go; a dummy's children take its place, except at
    /// the root where a dummy with several children stays.
    fn prune(&mut self) {
        let roots = std::mem::take(&mut self.roots);
        self.roots = self.pruned(roots, true);
    }

    fn pruned(&mut self, level: Vec<usize>, at_root: bool) -> Vec<usize> {
        let mut out = Vec::new();
        for n in level {
            let children = std::mem::take(&mut self.nodes[n].children);
            let children = self.pruned(children, false);
            if self.nodes[n].message.is_none() && (!at_root || children.len() < 2) {
                for &c in &children {
                    self.nodes[c].parent = self.nodes[n].parent;
                }
                out.extend(children);
            } else {
                self.nodes[n].children = children;
                out.push(n);
            }
        }
        out
    }

    /// The message a node's date and subject come from: its own or its first child's.
    fn representative(&self, n: usize) -> Option<usize> {
        self.nodes[n].message.or_else(|| {
            self.nodes[n]
                .children
                .first()
                .and_then(|&c| self.nodes[c].message)
        })
    }

    fn date_key(&self, found: &[Candidate], n: usize) -> (i64, u32) {
        self.representative(n)
            .map_or((0, 0), |m| (found[m].date, found[m].seq))
    }

    /// Step 5: roots with the same base subject join one thread.
    fn group_by_subject(&mut self, found: &[Candidate]) {
        self.sort(found);
        let subject_of = |f: &Forest, n: usize| f.representative(n).map(|m| &found[m].subject);
        let mut table: HashMap<String, usize> = HashMap::new();
        for &r in &self.roots {
            let Some(subject) = subject_of(self, r).filter(|s| !s.is_empty()) else {
                continue;
            };
            let better = table.get(subject).is_none_or(|&old| {
                let old_dummy = self.nodes[old].message.is_none();
                let new_dummy = self.nodes[r].message.is_none();
                let old_reply = self.nodes[old].message.is_some_and(|m| found[m].reply);
                let new_reply = self.nodes[r].message.is_some_and(|m| found[m].reply);
                (old_dummy && !new_dummy) || (!new_dummy && old_reply && !new_reply)
            });
            if better {
                table.insert(subject.clone(), r);
            }
        }
        let roots = std::mem::take(&mut self.roots);
        for r in roots {
            if self.nodes[r].parent.is_some() {
                continue; // already put under a dummy made for its subject
            }
            let target = subject_of(self, r)
                .filter(|s| !s.is_empty())
                .and_then(|s| table.get(s).copied());
            match target {
                Some(t) if t != r => {
                    if let Some(dummy) = self.merge(t, r, found)
                        && let Some(subject) = subject_of(self, r)
                    {
                        // Later roots of this subject join the new dummy.
                        table.insert(subject.clone(), dummy);
                    }
                }
                _ => self.roots.push(r),
            }
        }
    }

    /// Puts root `r` into the thread of root `t` (RFC 5256 §3 step 5C); returns the dummy
    /// made to hold both, if one was.
    fn merge(&mut self, t: usize, r: usize, found: &[Candidate]) -> Option<usize> {
        let (t_dummy, r_dummy) = (
            self.nodes[t].message.is_none(),
            self.nodes[r].message.is_none(),
        );
        let reply = |m: Option<usize>| m.is_some_and(|m| found[m].reply);
        if t_dummy && r_dummy {
            for c in std::mem::take(&mut self.nodes[r].children) {
                self.link(t, c);
            }
        } else if t_dummy {
            self.link(t, r);
        } else if r_dummy {
            // The table keeps the message over a dummy, so this does not arise; keep both.
            self.link(t, r);
        } else if !reply(self.nodes[t].message) && reply(self.nodes[r].message) {
            self.link(t, r);
        } else {
            // Neither is a reply to the other: a new dummy holds both.
            let d = self.add(None);
            let pos = self.roots.iter().position(|&x| x == t);
            self.link(d, t);
            self.link(d, r);
            match pos {
                Some(i) => self.roots[i] = d,
                None => self.roots.push(d),
            }
            return Some(d);
        }
        None
    }

    /// Step 6: every level by date, then sequence number.
    fn sort(&mut self, found: &[Candidate]) {
        let mut roots = std::mem::take(&mut self.roots);
        for n in 0..self.nodes.len() {
            let mut children = std::mem::take(&mut self.nodes[n].children);
            children.sort_by_key(|&c| self.date_key(found, c));
            self.nodes[n].children = children;
        }
        roots.sort_by_key(|&r| self.date_key(found, r));
        self.roots = roots;
    }

    /// The node as imap-codec's `Thread`: a chain of single children is one prefix.
    fn encode(&self, n: usize, id: &impl Fn(usize) -> Option<NonZeroU32>) -> Option<Thread> {
        let mut prefix = Vec::new();
        let mut node = n;
        loop {
            if let Some(m) = self.nodes[node].message {
                prefix.extend(id(m));
            }
            match self.nodes[node].children.as_slice() {
                [only] => node = *only,
                _ => break,
            }
        }
        let answers: Vec<Thread> = self.nodes[node]
            .children
            .iter()
            .filter_map(|&c| self.encode(c, id))
            .collect();
        let answers = Vec2::try_from(answers).ok();
        match (Vec1::try_from(prefix), answers) {
            (Ok(prefix), answers) => Some(Thread::Members { prefix, answers }),
            (Err(_), Some(answers)) => Some(Thread::Nested { answers }),
            (Err(_), None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message `seq` at hour `date`, with its Message-ID, references and base subject.
    fn mail(seq: u32, date: i64, id: &str, refs: &[&str], subject: &str, reply: bool) -> Candidate {
        Candidate {
            seq,
            uid: seq,
            date,
            message_id: Some(id.to_string()),
            references: refs.iter().map(|r| r.to_string()).collect(),
            subject: subject.to_string(),
            reply,
            ..Candidate::default()
        }
    }

    fn threads(forest: &Forest, found: &[Candidate]) -> String {
        let id = |m: usize| NonZeroU32::new(found[m].seq);
        forest
            .roots
            .iter()
            .filter_map(|&r| forest.encode(r, &id))
            .map(|t| t.to_string())
            .collect()
    }

    #[test]
    fn references_keep_a_missing_parent_as_a_dummy_root() {
        // 2 and 3 answer a message that is not in the mailbox; 1 stands alone.
        let found = [
            mail(1, 1, "a", &[], "출장", false),
            mail(2, 2, "b", &["gone"], "예산", true),
            mail(3, 3, "c", &["gone"], "예산", true),
        ];
        let forest = Forest::references(&found);
        assert_eq!(threads(&forest, &found), "(1)((2)(3))");
    }

    #[test]
    fn references_ignore_loops_and_duplicate_ids() {
        // 1 claims to answer 2 and 2 to answer 1; 3 reuses 1's Message-ID.
        let found = [
            mail(1, 1, "a", &["b"], "x", false),
            mail(2, 2, "b", &["a"], "y", false),
            mail(3, 3, "a", &[], "z", false),
        ];
        let forest = Forest::references(&found);
        assert_eq!(threads(&forest, &found), "(2 1)(3)");
    }

    #[test]
    fn every_message_is_in_exactly_one_place_whatever_the_references() {
        // A small linear congruential generator: many tangled mailboxes, reproducibly.
        let mut state = 0x2026_1122_u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) % n
        };
        let subjects = ["회의", "예산", "", "출장"];
        for round in 0..300 {
            let count = 1 + next(12) as u32;
            let found: Vec<Candidate> = (1..=count)
                .map(|seq| {
                    let refs: Vec<String> =
                        (0..next(4)).map(|_| format!("m{}", next(16))).collect();
                    let mut c = mail(
                        seq,
                        next(5) as i64,
                        &format!("m{}", next(16)),
                        &[],
                        subjects[next(4) as usize],
                        next(2) == 0,
                    );
                    c.references = refs;
                    if next(5) == 0 {
                        c.message_id = None;
                    }
                    c
                })
                .collect();
            for references in [true, false] {
                let context = format!("round {round}");
                crate::fuzzing::check_threads_once_each(&found, references, &context);
            }
        }
    }

    #[test]
    fn ordered_subject_groups_by_base_subject() {
        let found = [
            mail(1, 5, "a", &[], "회의", false),
            mail(2, 1, "b", &[], "예산", false),
            mail(3, 3, "c", &[], "회의", true),
            mail(4, 4, "d", &[], "예산", true),
        ];
        let forest = Forest::ordered_subject(&found);
        assert_eq!(threads(&forest, &found), "(2 4)(3 1)");
    }
}
