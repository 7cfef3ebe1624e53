//! The text of a cross-tab lease in `localStorage` (`<owner> <until>`), the stand-in for the
//! Web Locks API where a browser lacks it: whoever holds an unexpired lease renews tokens.

/// The stored text of a lease held by `owner` until `until_ms` (milliseconds since the epoch).
pub fn format(owner: &str, until_ms: f64) -> String {
    // Whole milliseconds are precise enough, and keep float formatting out of the bundle.
    format!("{owner} {}", until_ms.max(0.0) as u64)
}

/// The owner of the lease stored as `text`, if it is well-formed and has not expired at
/// `now_ms`. Anything else (garbage, an expired lease) means the lease is free.
pub fn holder(text: &str, now_ms: f64) -> Option<&str> {
    let (owner, until) = text.split_once(' ')?;
    let until: u64 = until.parse().ok()?;
    (!owner.is_empty() && (until as f64) > now_ms).then_some(owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_held_until_it_expires() {
        // One renewal at a time across tabs: a live lease names its owner.
        let text = format("tab-a", 2_000.0);
        assert_eq!(text, "tab-a 2000");
        assert_eq!(holder(&text, 1_999.0), Some("tab-a"));
        assert_eq!(holder(&text, 2_000.0), None);
    }

    #[test]
    fn a_garbled_lease_is_free() {
        // A broken entry must not block renewals for ever.
        for text in ["", "tab-a", " 5000", "tab-a soon", "tab-a -1", "tab-a 1e99"] {
            assert_eq!(holder(text, 0.0), None, "{text:?}");
        }
    }
}
