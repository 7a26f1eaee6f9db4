//! Message bodies in memory while they arrive, within one daemon-wide budget
//! (`[smtp] max_message_memory`): each connection's spool reserves what it holds, so many
//! clients sending large messages at once cannot take the machine's memory. A message that
//! finds the budget spent is read to its end and refused with `452 4.3.1` (RFC 3463:
//! mail system full), which a client retries later.

use std::sync::Arc;

/// The octets all connections' spools may hold together (`[smtp] max_message_memory`).
pub use certmail_session::budget::MemoryBudget as MessageMemory;

/// One connection's message body as it arrives, its octets reserved in a [`MessageMemory`]
/// (released when the body is taken, cleared or dropped).
#[derive(Debug)]
pub struct Spool {
    memory: Arc<MessageMemory>,
    body: Vec<u8>,
    reserved: u64,
    /// The budget was spent while this body arrived: the rest is discarded.
    refused: bool,
}

/// The budget was spent while the message arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory;

impl Spool {
    /// An empty spool drawing on `memory`.
    pub fn new(memory: Arc<MessageMemory>) -> Spool {
        Spool {
            memory,
            body: Vec::new(),
            reserved: 0,
            refused: false,
        }
    }

    /// Forgets any body (a new message, an aborted one, a kick) and frees its octets.
    pub fn clear(&mut self) {
        self.body = Vec::new();
        self.memory.release(std::mem::take(&mut self.reserved));
        self.refused = false;
    }

    /// Adds the next piece of the body, if the budget allows; otherwise drops the body.
    pub fn push(&mut self, piece: &[u8]) {
        if self.refused {
            return;
        }
        let octets = piece.len() as u64;
        if self.memory.try_reserve(octets) {
            self.reserved += octets;
            self.body.extend_from_slice(piece);
        } else {
            self.clear();
            self.refused = true;
        }
    }

    /// The whole body; `Err` when the budget was spent on the way. Its octets stay
    /// reserved until [`Spool::clear`] (call it once the message is stored), so bodies
    /// being delivered count too.
    pub fn take(&mut self) -> Result<Vec<u8>, OutOfMemory> {
        let body = std::mem::take(&mut self.body);
        if self.refused {
            self.clear();
            Err(OutOfMemory)
        } else {
            Ok(body)
        }
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        self.memory.release(self.reserved);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spools_share_the_budget_and_give_it_back() {
        let memory = MessageMemory::new(100);
        let mut a = Spool::new(Arc::clone(&memory));
        let mut b = Spool::new(Arc::clone(&memory));
        a.push(&[b'a'; 60]);
        b.push(&[b'b'; 30]);
        assert_eq!(memory.in_use(), 90);
        // B's next piece does not fit: its body is dropped and its octets freed at once.
        b.push(&[b'b'; 30]);
        assert_eq!(memory.in_use(), 60);
        b.push(b"more");
        assert_eq!(b.take(), Err(OutOfMemory));
        assert_eq!(a.take(), Ok(vec![b'a'; 60]));
        assert_eq!(memory.in_use(), 60, "held while the message is delivered");
        a.clear();
        assert_eq!(memory.in_use(), 0);
        // The next message starts afresh.
        b.push(&[b'b'; 100]);
        assert_eq!(memory.in_use(), 100);
        drop(b);
        assert_eq!(memory.in_use(), 0, "a dropped connection frees its spool");
    }
}
