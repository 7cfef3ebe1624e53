//! URL handling: percent-encoding, query strings and origins. A leaf module: it knows
//! nothing of the configuration or the provider.
//!
//! Deliberately not a general URL parser: it accepts only the plain `http(s)://host[:port]/…`
//! URLs this protocol needs and refuses everything ambiguous (user info, backslashes,
//! whitespace), so two parsers can never disagree about which host a URL names.

/// Percent-encodes `s` for a query component: RFC 3986 unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) are kept, every other UTF-8 byte becomes `%XX`.
pub fn encode_component(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Appends `params` (encoded with [`encode_component`]) to `base`'s query, with `?` or `&`
/// as needed. A `#fragment` of `base` is dropped: it would otherwise swallow the parameters.
pub fn append_query(base: &str, params: &[(&str, &str)]) -> String {
    let base = base.split_once('#').map_or(base, |(before, _)| before);
    let mut out = String::from(base);
    let mut separator = if !base.contains('?') {
        "?"
    } else if base.ends_with('?') || base.ends_with('&') {
        ""
    } else {
        "&"
    };
    for (name, value) in params {
        out.push_str(separator);
        out.push_str(&encode_component(name));
        out.push('=');
        out.push_str(&encode_component(value));
        separator = "&";
    }
    out
}

/// The origin (`scheme://host[:port]`) of an absolute `http(s)` URL: scheme and host
/// lowercased, the default port dropped. `None` for anything else, including URLs with
/// user info or backslashes, which browsers and simple parsers read differently.
pub fn origin_of(url: &str) -> Option<String> {
    let parsed = parse_http_url(url)?;
    Some(parsed.origin())
}

/// The parts of an `http(s)` URL this crate cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpUrl<'a> {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// Lowercased host; IPv6 hosts keep their brackets.
    pub host: String,
    /// Explicit non-default port.
    pub port: Option<u16>,
    /// Everything after the authority: path, query and fragment (may be empty).
    pub rest: &'a str,
}

impl HttpUrl<'_> {
    /// `scheme://host[:port]`.
    pub fn origin(&self) -> String {
        match self.port {
            Some(port) => format!("{}://{}:{port}", self.scheme, self.host),
            None => format!("{}://{}", self.scheme, self.host),
        }
    }

    /// Whether the host is this machine, where plain `http` cannot be intercepted.
    pub fn is_loopback(&self) -> bool {
        matches!(self.host.as_str(), "localhost" | "127.0.0.1" | "[::1]")
    }

    /// `https`, or `http` on a loopback host: the only URLs tokens may travel to.
    pub fn is_secure(&self) -> bool {
        self.scheme == "https" || self.is_loopback()
    }
}

/// Parses an absolute `http(s)` URL strictly; see the module doc.
pub(crate) fn parse_http_url(url: &str) -> Option<HttpUrl<'_>> {
    if url
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return None;
    }
    let (scheme, after) = url.split_once("://")?;
    let scheme = if scheme.eq_ignore_ascii_case("https") {
        "https"
    } else if scheme.eq_ignore_ascii_case("http") {
        "http"
    } else {
        return None;
    };
    let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(authority_end);
    if authority.contains('@') {
        return None;
    }
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        let inner = &authority[1..close];
        if inner.is_empty()
            || !inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return None;
        }
        let tail = &authority[close + 1..];
        let port = if tail.is_empty() {
            None
        } else {
            Some(tail.strip_prefix(':')?)
        };
        (&authority[..=close], port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty()
        || (!host.starts_with('[')
            && !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))
    {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: u16 = p.parse().ok()?;
            if n == 0 {
                return None;
            }
            let default = if scheme == "https" { 443 } else { 80 };
            (n != default).then_some(n)
        }
    };
    Some(HttpUrl {
        scheme,
        host: host.to_ascii_lowercase(),
        port,
        rest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_component_keeps_only_unreserved_characters() {
        // RFC 3986 2.3: unreserved characters are never encoded; everything else is.
        assert_eq!(encode_component("aZ09-._~"), "aZ09-._~");
        assert_eq!(
            encode_component("a b&c=d/e?f#g+h%"),
            "a%20b%26c%3Dd%2Fe%3Ff%23g%2Bh%25"
        );
        assert_eq!(encode_component("é"), "%C3%A9");
        assert_eq!(encode_component(""), "");
    }

    #[test]
    fn append_query_picks_the_right_separator_and_drops_the_fragment() {
        // A fragment in the base would swallow the parameters.
        assert_eq!(
            append_query("https://a/x", &[("k", "v")]),
            "https://a/x?k=v"
        );
        assert_eq!(
            append_query("https://a/x?p=1", &[("k", "v")]),
            "https://a/x?p=1&k=v"
        );
        assert_eq!(
            append_query("https://a/x?", &[("k", "v")]),
            "https://a/x?k=v"
        );
        assert_eq!(
            append_query("https://a/x?p=1&", &[("k", "v")]),
            "https://a/x?p=1&k=v"
        );
        assert_eq!(
            append_query("https://a/x#frag?no", &[("k", "v w"), ("l", "")]),
            "https://a/x?k=v%20w&l="
        );
        assert_eq!(append_query("https://a/x#f", &[]), "https://a/x");
    }

    #[test]
    fn origin_of_normalizes_scheme_host_and_default_port() {
        // HTML postMessage security: messages are accepted only from the exact expected origin.
        assert_eq!(
            origin_of("HTTPS://Id.Example:443/a?b#c").as_deref(),
            Some("https://id.example")
        );
        assert_eq!(
            origin_of("http://localhost:8080/cb").as_deref(),
            Some("http://localhost:8080")
        );
        assert_eq!(
            origin_of("http://localhost:80").as_deref(),
            Some("http://localhost")
        );
        assert_eq!(
            origin_of("https://a.example:80").as_deref(),
            Some("https://a.example:80")
        );
        assert_eq!(
            origin_of("http://[::1]:3000/").as_deref(),
            Some("http://[::1]:3000")
        );
        assert_eq!(
            origin_of("https://a.example?x").as_deref(),
            Some("https://a.example")
        );
    }

    #[test]
    fn origin_of_refuses_ambiguous_or_non_http_urls() {
        // Two parsers must never disagree on the host: no user info, no backslashes.
        for bad in [
            "https://good.example@evil.example/",
            "https://good.example\\@evil.example/",
            "https:\\\\evil.example",
            "javascript:alert(1)",
            "ftp://a.example",
            "//a.example",
            "/path",
            "https://",
            "https://a.example:",
            "https://a.example:0",
            "https://a.example:65536",
            "https://a.example:8a",
            "https://a b.example",
            "https://[::1",
            "https://[]/",
            "https://[::1]x/",
            "https://a:b:c/",
        ] {
            assert_eq!(origin_of(bad), None, "{bad:?}");
        }
    }
}
