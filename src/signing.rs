//! HMAC-SHA256, the signature of Slack's requests and GitHub's webhooks, and comparison in
//! constant time, so that neither a signature nor a shared secret can be guessed byte by byte
//! from how long a refusal takes.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The HMAC-SHA256 of `parts`, one after another, under `secret`.
pub fn mac(secret: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// Whether `tag` is the HMAC-SHA256 of `parts` under `secret`, compared in constant time.
pub fn verify(secret: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    mac(secret, parts).verify_slice(tag).is_ok()
}

/// The HMAC-SHA256 of `parts` under `secret`, in lowercase hex.
pub fn sign_hex(secret: &[u8], parts: &[&[u8]]) -> String {
    hex::encode(mac(secret, parts).finalize().into_bytes())
}

/// Whether `a` and `b` are equal, in a time that depends on their lengths only.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_verifies_under_its_secret_only() {
        let tag = hex::decode(sign_hex(b"secret", &[b"a", b"b"])).unwrap();
        assert!(verify(b"secret", &[b"ab"], &tag));
        assert!(!verify(b"other", &[b"ab"], &tag));
        assert!(!verify(b"secret", &[b"abc"], &tag));
        assert!(!verify(b"secret", &[b"ab"], &tag[..31]));
    }

    #[test]
    fn same_compares_whole_values() {
        assert!(same(b"abc", b"abc"));
        assert!(same(b"", b""));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }
}
