//! Account passwords: argon2id hashes (PHC strings), bounded concurrency, generation.
//!
//! argon2id with the crate's defaults (m = 19 MiB, t = 2, p = 1, the OWASP
//! recommendation). Each hash holds 19 MiB while it runs, so at most [`MAX_CONCURRENT`]
//! run at once: a burst of sign-ins waits instead of exhausting memory.

use std::sync::OnceLock;

use std::sync::Mutex;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;

use crate::Secret;
use crate::error::AuthError;

/// Password hashes computed at once, process-wide (19 MiB each).
pub const MAX_CONCURRENT: usize = 4;

fn gate() -> &'static Semaphore {
    static GATE: OnceLock<Semaphore> = OnceLock::new();
    GATE.get_or_init(|| Semaphore::new(MAX_CONCURRENT))
}

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

/// Argon2 working memory kept between sign-ins: at most [`MAX_CONCURRENT`] buffers of
/// 19 MiB. Allocating and freeing one per sign-in made the allocator keep the freed blocks,
/// so the daemon's memory grew with every concurrent sign-in (measured: ~12 MiB each).
fn buffers() -> &'static Mutex<Vec<Vec<Block>>> {
    static POOL: OnceLock<Mutex<Vec<Vec<Block>>>> = OnceLock::new();
    POOL.get_or_init(|| Mutex::new(Vec::new()))
}

/// [`verify`] with working memory from [`buffers`].
fn verify_pooled(password: &str, phc: &str) -> Result<bool, AuthError> {
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
    let mut blocks = buffers()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop()
        .unwrap_or_default();
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
    buffers()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(blocks);
    result?;
    Ok(bool::from(out.ct_eq(expected.as_ref())))
}

/// [`verify`] on the blocking pool, at most [`MAX_CONCURRENT`] at once, reusing working
/// memory between calls.
pub async fn verify_async(password: Secret<String>, phc: String) -> Result<bool, AuthError> {
    let _permit = gate()
        .acquire()
        .await
        .map_err(|_| AuthError::PasswordHash("verifier closed".into()))?;
    tokio::task::spawn_blocking(move || verify_pooled(password.expose(), &phc))
        .await
        .map_err(|e| AuthError::PasswordHash(e.to_string()))?
}

/// [`hash`] on the blocking pool, at most [`MAX_CONCURRENT`] at once.
pub async fn hash_async(password: Secret<String>) -> Result<String, AuthError> {
    let _permit = gate()
        .acquire()
        .await
        .map_err(|_| AuthError::PasswordHash("hasher closed".into()))?;
    tokio::task::spawn_blocking(move || hash(password.expose()))
        .await
        .map_err(|e| AuthError::PasswordHash(e.to_string()))?
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
        for _ in 0..3 {
            assert!(verify_pooled("풀 비밀번호 42", &h).expect("verify"));
            assert!(!verify_pooled("풀 비밀번호 43", &h).expect("verify"));
        }
        assert!(buffers().lock().expect("not poisoned").len() <= MAX_CONCURRENT);
        assert!(verify_pooled("x", "$argon2id$v=19$garbage").is_err());
    }

    #[tokio::test]
    async fn async_forms_agree() {
        let h = hash_async(Secret::new("pw-홍길동".into()))
            .await
            .expect("hash");
        assert!(
            verify_async(Secret::new("pw-홍길동".into()), h.clone())
                .await
                .expect("verify")
        );
        assert!(
            !verify_async(Secret::new("nope".into()), h)
                .await
                .expect("verify")
        );
    }
}
