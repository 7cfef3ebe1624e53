//! Space-separated scope strings (RFC 6749 3.3): splitting, deduplicating, always `openid`.

/// The distinct scopes of `s`, in order of first appearance.
pub fn scopes(s: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for token in s.split_ascii_whitespace() {
        if !out.contains(&token) {
            out.push(token);
        }
    }
    out
}

/// `s` with `openid` first and duplicates removed: OpenID Connect requires `openid`
/// (OIDC Core 3.1.2.1).
pub fn with_openid(s: &str) -> String {
    let mut out = vec!["openid"];
    out.extend(scopes(s).into_iter().filter(|t| *t != "openid"));
    out.join(" ")
}

/// The scopes of `base` followed by those of `extra` not already present.
pub fn merge(base: &str, extra: &[&str]) -> String {
    let mut out = scopes(base);
    for token in extra.iter().flat_map(|e| e.split_ascii_whitespace()) {
        if !out.contains(&token) {
            out.push(token);
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_split_on_any_whitespace_and_drop_duplicates() {
        // RFC 6749 3.3: space-delimited, order does not matter.
        assert_eq!(scopes("  a b\ta  c "), vec!["a", "b", "c"]);
        assert!(scopes("").is_empty());
    }

    #[test]
    fn with_openid_puts_openid_first_exactly_once() {
        // OIDC Core 3.1.2.1: scope must contain openid.
        assert_eq!(with_openid("profile openid email"), "openid profile email");
        assert_eq!(with_openid(""), "openid");
        assert_eq!(with_openid("openid openid"), "openid");
    }

    #[test]
    fn merge_appends_only_new_scopes() {
        // RFC 6749 3.3: login(options) can ask for extra scopes.
        assert_eq!(
            merge("openid profile", &["read:messages", "profile", "a b"]),
            "openid profile read:messages a b"
        );
    }
}
