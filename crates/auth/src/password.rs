//! Account passwords: argon2id hashes (PHC strings), bounded concurrency, generation.
//!
//! argon2id with the crate's defaults (m = 19 MiB, t = 2, p = 1, the OWASP
//! recommendation). Each hash holds 19 MiB while it runs, so at most [`MAX_CONCURRENT`]
//! run at once: a burst of sign-ins waits instead of exhausting memory.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use ring::rand::{SecureRandom, SystemRandom};
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

/// [`verify`] on the blocking pool, at most [`MAX_CONCURRENT`] at once.
pub async fn verify_async(password: Secret<String>, phc: String) -> Result<bool, AuthError> {
    let _permit = gate()
        .acquire()
        .await
        .map_err(|_| AuthError::PasswordHash("verifier closed".into()))?;
    tokio::task::spawn_blocking(move || verify(password.expose(), &phc))
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
