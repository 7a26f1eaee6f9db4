//! Account passwords: argon2id hashes (PHC strings), bounded concurrency, generation.
//!
//! argon2id with the crate's defaults (m = 19 MiB, t = 2, p = 1, the OWASP
//! recommendation). Each hash holds 19 MiB while it runs, so at most [`MAX_CONCURRENT`]
//! run at once per [`PasswordPool`] (one per daemon): a burst of sign-ins waits instead of
//! exhausting memory.

use std::sync::Mutex;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;

use crate::Secret;
use crate::error::AuthError;

/// Password hashes computed at once by one [`PasswordPool`] (19 MiB each).
pub const MAX_CONCURRENT: usize = 4;

/// Hashes `password` into a PHC string (blocking: ~20-50 ms of CPU).
pub fn hash(password: &str) -> Result<String, AuthError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AuthError::PasswordHash(e.to_string()))
}

/// Whether `password` matches the PHC string `phc` (blocking). A malformed stored hash
/// is an error, not a mismatch, so it reaches the logs.
pub fn verify(password: &str, phc: &str) -> Result<bool, AuthError> {
    match Argon2::default().verify_password(password.as_bytes(), phc) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(AuthError::PasswordHash(e.to_string())),
    }
}

/// The argon2 work of one daemon: at most [`MAX_CONCURRENT`] hashes at once, and their
/// working memory kept between calls (at most [`MAX_CONCURRENT`] buffers of 19 MiB).
/// Allocating and freeing one per sign-in made the allocator keep the freed blocks, so the
/// daemon's memory grew with every concurrent sign-in (measured: ~12 MiB each).
#[derive(Debug)]
pub struct PasswordPool {
    gate: Semaphore,
    buffers: Mutex<Vec<Vec<Block>>>,
}

impl Default for PasswordPool {
    fn default() -> Self {
        Self {
            gate: Semaphore::new(MAX_CONCURRENT),
            buffers: Mutex::new(Vec::new()),
        }
    }
}

impl PasswordPool {
    /// [`verify`] on the blocking pool, at most [`MAX_CONCURRENT`] at once, reusing working
    /// memory between calls.
    pub async fn verify(&self, password: Secret<String>, phc: String) -> Result<bool, AuthError> {
        let _permit = self
            .gate
            .acquire()
            .await
            .map_err(|_| AuthError::PasswordHash("verifier closed".into()))?;
        let mut blocks = self.take_buffer();
        let (result, blocks) = tokio::task::spawn_blocking(move || {
            let result = verify_with(password.expose(), &phc, &mut blocks);
            (result, blocks)
        })
        .await
        .map_err(|e| AuthError::PasswordHash(e.to_string()))?;
        self.put_back(blocks);
        result
    }

    /// [`hash`] on the blocking pool, at most [`MAX_CONCURRENT`] at once.
    pub async fn hash(&self, password: Secret<String>) -> Result<String, AuthError> {
        let _permit = self
            .gate
            .acquire()
            .await
            .map_err(|_| AuthError::PasswordHash("hasher closed".into()))?;
        tokio::task::spawn_blocking(move || hash(password.expose()))
            .await
            .map_err(|e| AuthError::PasswordHash(e.to_string()))?
    }

    /// Bytes of argon2 working memory the pool keeps between calls: at most
    /// [`MAX_CONCURRENT`] buffers of the stored hashes' memory cost (19 MiB each with the
    /// default parameters). Buffers lent to a running check are not counted.
    pub fn memory_in_use(&self) -> u64 {
        let buffers = self.buffers.lock().unwrap_or_else(|p| p.into_inner());
        buffers
            .iter()
            .map(|b| (b.len() * std::mem::size_of::<Block>()) as u64)
            .sum()
    }

    /// A working-memory buffer from the pool (empty when none is free).
    fn take_buffer(&self) -> Vec<Block> {
        self.buffers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_default()
    }

    /// Returns a buffer for the next call.
    fn put_back(&self, blocks: Vec<Block>) {
        self.buffers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(blocks);
    }
}

/// [`verify`] with `blocks` as argon2's working memory (grown to what the hash needs).
fn verify_with(password: &str, phc: &str, blocks: &mut Vec<Block>) -> Result<bool, AuthError> {
    let bad = |e: &dyn std::fmt::Display| AuthError::PasswordHash(e.to_string());
    let hash = PasswordHash::new(phc).map_err(|e| bad(&e))?;
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return Err(AuthError::PasswordHash(
            "stored hash has no salt or output".into(),
        ));
    };
    let params = Params::try_from(&hash).map_err(|e| bad(&e))?;
    let algorithm = Algorithm::try_from(hash.algorithm.as_str()).map_err(|e| bad(&e))?;
    let version = match hash.version {
        Some(v) => Version::try_from(v).map_err(|e| bad(&e))?,
        None => Version::default(),
    };
    blocks.resize(params.block_count(), Block::default());
    let mut out = vec![0u8; expected.as_ref().len()];
    let result = Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt.as_ref(),
            &mut out,
            &mut blocks[..params.block_count()],
        )
        .map_err(|e| bad(&e));
    result?;
    Ok(bool::from(out.ct_eq(expected.as_ref())))
}

/// A random password of 16 characters from an alphabet without look-alikes (0/O, 1/l/I),
/// about 94 bits: for demo accounts and temporary passwords.
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(16);
    while out.len() < 16 {
        let mut b = [0u8; 1];
        if rng.fill(&mut b).is_err() {
            continue;
        }
        // Rejection sampling keeps the distribution uniform.
        let limit = 256 - (256 % ALPHABET.len());
        if (b[0] as usize) < limit {
            out.push(ALPHABET[b[0] as usize % ALPHABET.len()] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash("올바른 비밀번호 123!").expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("올바른 비밀번호 123!", &h).expect("verify"));
        assert!(!verify("올바른 비밀번호 124!", &h).expect("verify"));
    }

    #[test]
    fn malformed_hash_is_an_error() {
        assert!(verify("x", "not a phc string").is_err());
    }

    #[test]
    fn generated_passwords_differ_and_avoid_lookalikes() {
        let a = generate();
        let b = generate();
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
        assert!(!a.contains(['0', 'O', '1', 'l', 'I']));
    }

    #[test]
    fn pooled_verification_agrees_with_the_crate() {
        let h = hash("풀 비밀번호 42").expect("hash");
        let pool = PasswordPool::default();
        for _ in 0..3 {
            let mut blocks = pool.take_buffer();
            assert!(verify_with("풀 비밀번호 42", &h, &mut blocks).expect("verify"));
            assert!(!verify_with("풀 비밀번호 43", &h, &mut blocks).expect("verify"));
            pool.put_back(blocks);
        }
        assert!(pool.buffers.lock().expect("not poisoned").len() <= MAX_CONCURRENT);
        assert!(verify_with("x", "$argon2id$v=19$garbage", &mut Vec::new()).is_err());
    }

    #[tokio::test]
    async fn async_forms_agree() {
        let pool = PasswordPool::default();
        let h = pool
            .hash(Secret::new("pw-홍길동".into()))
            .await
            .expect("hash");
        assert!(
            pool.verify(Secret::new("pw-홍길동".into()), h.clone())
                .await
                .expect("verify")
        );
        assert!(
            !pool
                .verify(Secret::new("nope".into()), h)
                .await
                .expect("verify")
        );
    }
}
