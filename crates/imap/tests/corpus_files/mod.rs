//! The test messages in `tests/corpus`.

use std::{fs, path::Path};

/// The message file `name` of the corpus.
pub fn corpus(name: &str) -> Vec<u8> {
    fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/corpus")
            .join(name),
    )
    .expect("corpus file")
}
