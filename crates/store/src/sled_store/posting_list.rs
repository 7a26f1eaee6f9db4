//! One block of a posting list as the sled index stores it: the sorted document numbers
//! of one n-gram hash that fall in one block of [`BLOCK_DOCS`] numbers, as LEB128 varints:
//! the first as its offset from the block's first number, each next one as its gap from the
//! one before. A block holds at most [`BLOCK_DOCS`] numbers, each gap under
//! [`BLOCK_DOCS`], so a value never exceeds 2 bytes per document (1 KiB) and a dense block
//! takes about one byte per document.

use super::keys;
use crate::error::{Result, StoreError};

/// Document numbers per block (one sled value per n-gram hash and block).
pub(crate) const BLOCK_DOCS: u64 = 512;

/// The block a document number falls in.
pub(crate) fn block_of(doc: u64) -> u64 {
    doc / BLOCK_DOCS
}

fn corrupt() -> StoreError {
    keys::corrupt(b"search posting list", "not a sorted list of varints")
}

/// Appends the document numbers of a stored block (number `block`) to `out`, in order.
pub(crate) fn decode_into(block: u64, value: &[u8], out: &mut Vec<u64>) -> Result<()> {
    let mut prev = block.saturating_mul(BLOCK_DOCS);
    let mut first = true;
    let mut bytes = value.iter();
    while bytes.len() > 0 {
        let mut n: u64 = 0;
        let mut shift = 0;
        loop {
            let &b = bytes.next().ok_or_else(corrupt)?;
            if shift > 14 {
                return Err(corrupt());
            }
            n |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        if !first && n == 0 {
            return Err(corrupt());
        }
        first = false;
        prev += n;
        out.push(prev);
    }
    Ok(())
}

fn encode(block: u64, docs: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(docs.len() + 2);
    let mut prev = block.saturating_mul(BLOCK_DOCS);
    for &doc in docs {
        let mut n = doc - prev;
        prev = doc;
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
    }
    out
}

/// The block value with `doc` added (a no-op if it is there).
pub(crate) fn with(value: Option<&[u8]>, doc: u64) -> Result<Vec<u8>> {
    let block = block_of(doc);
    let mut docs = Vec::new();
    decode_into(block, value.unwrap_or_default(), &mut docs)?;
    if let Err(at) = docs.binary_search(&doc) {
        docs.insert(at, doc);
    }
    Ok(encode(block, &docs))
}

/// The block value with `doc` removed; `None` when no document is left.
pub(crate) fn without(value: &[u8], doc: u64) -> Result<Option<Vec<u8>>> {
    let block = block_of(doc);
    let mut docs = Vec::new();
    decode_into(block, value, &mut docs)?;
    if let Ok(at) = docs.binary_search(&doc) {
        docs.remove(at);
    }
    Ok((!docs.is_empty()).then(|| encode(block, &docs)))
}

/// The numbers in both sorted lists.
pub(crate) fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(block: u64, value: &[u8]) -> Vec<u64> {
        let mut out = Vec::new();
        decode_into(block, value, &mut out).unwrap();
        out
    }

    #[test]
    fn adding_and_removing_keeps_the_block_sorted_and_small() {
        let block = 3;
        let base = block * BLOCK_DOCS;
        let mut value = with(None, base + 200).unwrap();
        for doc in [base + 5, base + 511, base, base + 200] {
            value = with(Some(&value), doc).unwrap();
        }
        assert_eq!(
            docs(block, &value),
            [base, base + 5, base + 200, base + 511]
        );
        let value = without(&value, base + 5).unwrap().unwrap();
        assert_eq!(docs(block, &value), [base, base + 200, base + 511]);
        let value = without(&value, base + 6).unwrap().unwrap();
        assert_eq!(docs(block, &value), [base, base + 200, base + 511]);
        let mut value = Some(value);
        for doc in [base, base + 200, base + 511] {
            value = without(value.as_deref().unwrap(), doc).unwrap();
        }
        assert_eq!(value, None);
    }

    #[test]
    fn a_full_block_takes_about_a_byte_per_document() {
        let mut value = None;
        for doc in BLOCK_DOCS..2 * BLOCK_DOCS {
            value = Some(with(value.as_deref(), doc).unwrap());
        }
        let value = value.unwrap();
        assert_eq!(value.len() as u64, BLOCK_DOCS);
        assert_eq!(docs(1, &value).len() as u64, BLOCK_DOCS);
        // The worst case: two documents far apart in the block.
        let sparse = with(Some(&with(None, 0).unwrap()), BLOCK_DOCS - 1).unwrap();
        assert_eq!(sparse.len(), 3);
    }

    #[test]
    fn damaged_values_are_refused_not_misread() {
        let mut out = Vec::new();
        assert!(
            decode_into(0, &[0x80], &mut out).is_err(),
            "unfinished varint"
        );
        assert!(decode_into(0, &[0x80, 0x80, 0x80, 0x01], &mut out).is_err());
        assert!(
            decode_into(0, &[1, 0], &mut out).is_err(),
            "a repeated number"
        );
        assert_eq!(intersect(&[1, 3, 5, 9], &[2, 3, 9, 10]), [3, 9]);
    }
}
