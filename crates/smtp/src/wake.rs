//! After a stored delivery: the connections watching the new copies' mailboxes are told
//! (IDLE, NOOP), the same for accepted mail, delivery reports and the daemon's notices.

use certmail_session::{Change, ChangeHub};
use certmail_store::DeliveryReceipt;

/// Publishes an `EXISTS` change for every copy `receipt` stored.
pub fn new_copies(hub: &ChangeHub, receipt: &DeliveryReceipt) {
    for copy in &receipt.stored {
        hub.publish(
            &copy.account,
            None,
            Change::Exists {
                mailbox: copy.mailbox.clone(),
                uid: copy.uid,
            },
        );
    }
}
