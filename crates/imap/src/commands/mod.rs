//! One file per IMAP command.
