//! Where to send the user after login: only a path on this app's own origin, so the login
//! flow can never be turned into an open redirect.

/// Longest return-to path accepted.
pub const MAX_RETURN_TO_LEN: usize = 2048;

/// `input` if it is a same-origin absolute path (with optional query), with any
/// `#fragment` removed; `None` otherwise.
///
/// Refused: anything not starting with exactly one `/` (so no scheme and no
/// protocol-relative `//host`), any backslash (browsers read `/\host` as `//host`), any
/// whitespace or control character (browsers strip some of them, turning `/\t/host` into
/// `//host`), a first segment starting with an encoded slash or backslash (`/%2F…`,
/// `/%5C…`, which a router that decodes paths could turn into `//host`), `.`/`..` segments,
/// and anything longer than [`MAX_RETURN_TO_LEN`].
pub fn sanitize_return_to(input: &str) -> Option<String> {
    if input.len() > MAX_RETURN_TO_LEN {
        return None;
    }
    if input
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return None;
    }
    let path_and_query = input.split_once('#').map_or(input, |(before, _)| before);
    let rest = path_and_query.strip_prefix('/')?;
    if rest.starts_with('/') {
        return None;
    }
    let lowered = rest.get(..3).map(str::to_ascii_lowercase);
    if matches!(lowered.as_deref(), Some("%2f" | "%5c")) {
        return None;
    }
    let path = rest.split_once('?').map_or(rest, |(p, _)| p);
    let dot_segment = path.split('/').any(|seg| {
        let seg = seg.to_ascii_lowercase().replace("%2e", ".");
        seg == "." || seg == ".."
    });
    if dot_segment {
        return None;
    }
    Some(path_and_query.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_paths_are_kept_with_their_query() {
        // docs/contract.md §2: the user lands back where they asked to go.
        assert_eq!(sanitize_return_to("/").as_deref(), Some("/"));
        assert_eq!(sanitize_return_to("/profile").as_deref(), Some("/profile"));
        assert_eq!(
            sanitize_return_to("/external-api?tab=2&x=%2F").as_deref(),
            Some("/external-api?tab=2&x=%2F")
        );
        assert_eq!(sanitize_return_to("/a/b:c").as_deref(), Some("/a/b:c"));
    }

    #[test]
    fn the_fragment_is_stripped() {
        // The fragment carries the authorization response; never bounce it elsewhere.
        assert_eq!(
            sanitize_return_to("/profile#access_token=x").as_deref(),
            Some("/profile")
        );
        assert_eq!(sanitize_return_to("/#").as_deref(), Some("/"));
    }

    #[test]
    fn hostile_return_to_values_are_rejected() {
        // RFC 9700 4.11: no open redirects; //evil.example, https://evil.example, /\evil.example.
        for hostile in [
            "//evil.example",
            "///evil.example",
            "https://evil.example",
            "http:evil.example",
            "/\\evil.example",
            "\\\\evil",
            "\\/evil",
            "/%5Cevil",
            "/%5cevil",
            "/%2F%2Fevil.example",
            "/%2fevil.example",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,x",
            " /x",
            "/x ",
            "/x\ny",
            "/\t/evil.example",
            "/x\u{0}",
            "/x\u{a0}y",
            "/x\u{2028}y",
            "",
            "profile",
            "?x=1",
            "#x",
            "/../evil",
            "/a/%2e%2e/b",
            "/./x",
        ] {
            assert_eq!(sanitize_return_to(hostile), None, "{hostile:?}");
        }
    }

    #[test]
    fn an_overlong_path_is_rejected() {
        // Bounded input.
        let long = format!("/{}", "a".repeat(MAX_RETURN_TO_LEN));
        assert_eq!(sanitize_return_to(&long), None);
        let fits = format!("/{}", "a".repeat(MAX_RETURN_TO_LEN - 1));
        assert!(sanitize_return_to(&fits).is_some());
    }
}
