//! Slack request signing, version `v0`: proves that a request comes from Slack and is recent.
//!
//! Slack signs `v0:{X-Slack-Request-Timestamp}:{raw body}` with HMAC-SHA256 keyed by the app's
//! signing secret and sends `v0=<hex>` in `X-Slack-Signature`. The body must be checked as the
//! bytes received, before any parsing: re-encoding it would change the signature.

use chrono::{DateTime, Utc};

use crate::signing;

/// How far a request's timestamp may be from our clock, either way: Slack's advice, and the
/// window in which a captured request could be replayed.
const MAX_SKEW_SECS: u64 = 5 * 60;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the request has no X-Slack-Request-Timestamp or X-Slack-Signature header")]
    Missing,
    #[error(
        "the request's X-Slack-Request-Timestamp is not a number of seconds, \
         or its X-Slack-Signature is not `v0=` and 64 hex digits"
    )]
    Malformed,
    #[error("the request's timestamp is more than 5 minutes from now: replayed, or a clock is off")]
    Stale,
    #[error("the request's signature does not match its body and the signing secret")]
    Mismatch,
}

/// Checks the request headers `X-Slack-Request-Timestamp` (`timestamp`) and `X-Slack-Signature`
/// (`signature`) against the raw `body`.
///
/// # Errors
/// When a header is absent or malformed, the timestamp is more than 5 minutes from `now`, or
/// the signature is not the body's under `secret` (compared in constant time).
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Missing);
    };
    // Digits only: the header's text is what was signed, so `+5` or ` 5` must not pass as 5.
    let sent: i64 = Some(timestamp)
        .filter(|t| t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .ok_or(SignatureError::Malformed)?;
    let tag = signature
        .strip_prefix("v0=")
        .and_then(|hex| hex::decode(hex).ok())
        .filter(|tag| tag.len() == 32)
        .ok_or(SignatureError::Malformed)?;
    if now.timestamp().abs_diff(sent) > MAX_SKEW_SECS {
        return Err(SignatureError::Stale);
    }
    if signing::verify(secret, &parts(timestamp, body), &tag) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The `X-Slack-Signature` Slack would send for `body` at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let timestamp = timestamp.to_string();
    format!("v0={}", signing::sign_hex(secret, &parts(&timestamp, body)))
}

/// What Slack signs: `v0:{timestamp}:{body}`.
fn parts<'a>(timestamp: &'a str, body: &'a [u8]) -> [&'a [u8]; 4] {
    [b"v0:", timestamp.as_bytes(), b":", body]
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example in Slack's "Verifying requests from Slack".
    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: i64 = 1531420618;
    const BODY: &[u8] =
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&\
        channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&\
        command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F\
        T1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&\
        trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    fn check(
        secret: &[u8],
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        verify(secret, Some(timestamp), Some(signature), body, at(now))
    }

    #[test]
    fn slacks_documented_example_signs_and_verifies() {
        assert_eq!(sign(SECRET, TIMESTAMP, BODY), SIGNATURE);
        assert_eq!(
            check(SECRET, "1531420618", SIGNATURE, BODY, TIMESTAMP),
            Ok(())
        );
        let upper = format!("v0={}", SIGNATURE[3..].to_uppercase());
        assert_eq!(check(SECRET, "1531420618", &upper, BODY, TIMESTAMP), Ok(()));
    }

    #[test]
    fn a_wrong_secret_or_a_changed_body_or_timestamp_does_not_match() {
        let ts = "1531420618";
        let mismatch = Err(SignatureError::Mismatch);
        assert_eq!(
            check(b"another secret", ts, SIGNATURE, BODY, TIMESTAMP),
            mismatch
        );
        assert_eq!(check(b"", ts, SIGNATURE, BODY, TIMESTAMP), mismatch);
        let mut body = BODY.to_vec();
        body.push(b'x');
        assert_eq!(check(SECRET, ts, SIGNATURE, &body, TIMESTAMP), mismatch);
        assert_eq!(check(SECRET, ts, SIGNATURE, b"", TIMESTAMP), mismatch);
        assert_eq!(
            check(SECRET, "1531420619", SIGNATURE, BODY, TIMESTAMP),
            mismatch
        );
        // Leading zeros are a different basestring, though the same instant.
        assert_eq!(
            check(SECRET, "01531420618", SIGNATURE, BODY, TIMESTAMP),
            mismatch
        );
    }

    #[test]
    fn requests_more_than_five_minutes_off_are_stale_either_way() {
        let ts = "1531420618";
        for now in [TIMESTAMP - 300, TIMESTAMP + 300] {
            assert_eq!(check(SECRET, ts, SIGNATURE, BODY, now), Ok(()));
        }
        for now in [TIMESTAMP - 301, TIMESTAMP + 301, 0, 4_102_444_800] {
            assert_eq!(
                check(SECRET, ts, SIGNATURE, BODY, now),
                Err(SignatureError::Stale)
            );
        }
        let far = "9223372036854775807";
        let signature = sign(SECRET, i64::MAX, BODY);
        assert_eq!(
            check(SECRET, far, &signature, BODY, TIMESTAMP),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn missing_and_malformed_headers_are_refused() {
        let ts = Some("1531420618");
        let now = at(TIMESTAMP);
        assert_eq!(
            verify(SECRET, None, Some(SIGNATURE), BODY, now),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(SECRET, ts, None, BODY, now),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(SECRET, None, None, BODY, now),
            Err(SignatureError::Missing)
        );
        let malformed = Err(SignatureError::Malformed);
        for timestamp in [
            "",
            "abc",
            "+1531420618",
            " 1531420618",
            "1531420618.5",
            "-1",
            "99999999999999999999",
        ] {
            assert_eq!(
                check(SECRET, timestamp, SIGNATURE, BODY, TIMESTAMP),
                malformed,
                "{timestamp:?}"
            );
        }
        let hex = &SIGNATURE[3..];
        for signature in [
            "",
            "v0=",
            hex,
            &format!("v1={hex}"),
            &format!("v0={}", &hex[..62]),
            &format!("v0={hex}00"),
            &format!("v0={}zz", &hex[..62]),
            &format!("v0={}é", &hex[..62]),
        ] {
            assert_eq!(
                check(SECRET, "1531420618", signature, BODY, TIMESTAMP),
                malformed,
                "{signature:?}"
            );
        }
    }
}
