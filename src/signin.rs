//! One-time sign-in links and web sessions: secrets people carry, of which the store keeps
//! only digests, so a copy of the database signs nobody in.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// How long a sign-in link works.
pub const LINK_TTL: chrono::Duration = chrono::Duration::minutes(10);

/// A new secret: 32 bytes from a cryptographic generator seeded by the operating system, as
/// hex (fit for a URL path and a cookie).
pub fn secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the store keeps of a secret.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether two secrets are the same, in a time that does not depend on where they differ.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |diff, (x, y)| diff | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_new_each_time_and_kept_only_as_digests() {
        let (a, b) = (secret(), secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(digest(&a), digest(&a));
        assert_ne!(digest(&a), a);
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &b));
        assert!(!same(&a, ""));
    }
}
