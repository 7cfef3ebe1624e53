//! The record of spent refresh tokens, shared by every tab of the app's origin.
//!
//! A rotated refresh token must never be presented again: the provider's reuse detection (RFC
//! 9700 §4.14.2; Auth0, Okta and hashgate-idp all have it) would revoke the whole family and sign
//! the user out everywhere. A tab can hold a spent token without knowing it: "Duplicate tab"
//! copies `sessionStorage`, and a tab with `cacheLocation: local` keeps its older token in memory.
//! So every tab records the SHA-256 of each refresh token it redeems, in `localStorage`, under the
//! renewal lock, and checks the record before it presents one. Only hashes are kept, never tokens;
//! the record is bounded (the newest [`MAX_ENTRIES`], none older than [`MAX_AGE_SECS`]).

use hashgate_protocol::{base64url, RefreshToken};

use crate::browser::{self, Area};
use crate::error::AuthError;

const KEY: &str = "hashgate.auth.spent";
/// How many spent tokens are remembered: far more than one browser rotates within a token's life.
pub const MAX_ENTRIES: usize = 64;
/// How long a spent token is remembered: longer than any refresh token's absolute lifetime.
pub const MAX_AGE_SECS: i64 = 90 * 24 * 60 * 60;

/// The fingerprint under which `token` is recorded (base64url SHA-256).
pub async fn fingerprint(token: &RefreshToken) -> Result<String, AuthError> {
    Ok(base64url::encode(
        &browser::sha256(token.secret().as_bytes()).await?,
    ))
}

/// True when a tab of this app has already redeemed the token with this fingerprint.
pub fn is_spent(fingerprint: &str) -> bool {
    entries(&read()).any(|(fp, _)| fp == fingerprint)
}

/// Records that the token with this fingerprint has been presented to the provider.
pub fn record(fingerprint: &str, now: i64) {
    let text = read();
    let kept = keep(&text, fingerprint, now);
    let _ = browser::storage_set(Area::Local, KEY, &kept);
}

fn read() -> String {
    browser::storage_get(Area::Local, KEY).unwrap_or_default()
}

/// One entry a line: `<fingerprint> <unix seconds>`; anything else is skipped.
fn entries(text: &str) -> impl Iterator<Item = (&str, i64)> {
    text.lines().filter_map(|line| {
        let (fp, at) = line.split_once(' ')?;
        Some((fp, at.parse().ok()?))
    })
}

/// The record with `fingerprint` added at `now`, pruned to the bounds.
fn keep(text: &str, fingerprint: &str, now: i64) -> String {
    let mut kept: Vec<(&str, i64)> = entries(text)
        .filter(|(fp, at)| *fp != fingerprint && now.saturating_sub(*at) <= MAX_AGE_SECS)
        .collect();
    kept.push((fingerprint, now));
    let skip = kept.len().saturating_sub(MAX_ENTRIES);
    kept[skip..]
        .iter()
        .map(|(fp, at)| format!("{fp} {at}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_fingerprint_is_found_and_garbage_lines_are_skipped() {
        let text = keep("not an entry\nabc notanumber\n", "fp-1", 100);
        assert_eq!(text, "fp-1 100\n");
        assert!(entries(&text).any(|(fp, _)| fp == "fp-1"));
        assert!(!entries(&text).any(|(fp, _)| fp == "fp-2"));
    }

    #[test]
    fn the_record_keeps_only_the_newest_entries_and_forgets_old_ones() {
        let mut text = String::new();
        for i in 0..(MAX_ENTRIES + 10) {
            text = keep(&text, &format!("fp-{i}"), 1_000 + i as i64);
        }
        assert_eq!(entries(&text).count(), MAX_ENTRIES);
        assert!(!entries(&text).any(|(fp, _)| fp == "fp-0"));
        assert!(entries(&text).any(|(fp, _)| fp == format!("fp-{}", MAX_ENTRIES + 9)));
        let later = keep(&text, "fresh", 1_000 + MAX_AGE_SECS + 100);
        assert_eq!(entries(&later).count(), 1);
    }
}
