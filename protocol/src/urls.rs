//! URL building: percent-encoding, query strings, the `/authorize` request, the logout URL,
//! and origins.
//!
//! Deliberately not a general URL parser: it accepts only the plain `http(s)://host[:port]/…`
//! URLs this protocol needs and refuses everything ambiguous (user info, backslashes,
//! whitespace), so two parsers can never disagree about which host a URL names.

use crate::config::AuthConfig;
use crate::discovery::ProviderMetadata;
use crate::secret::{IdToken, Nonce, State};

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

/// An OpenID Connect implicit-flow authentication request (OIDC Core 3.2.2.1).
#[derive(Debug, Clone, Copy)]
pub struct AuthorizeRequest<'a> {
    /// The provider's `authorization_endpoint` from discovery.
    pub authorization_endpoint: &'a str,
    /// `id_token token` or `id_token`.
    pub response_type: &'a str,
    /// The SPA's client id.
    pub client_id: &'a str,
    /// The app's origin + `redirectPath`, registered exactly at the provider.
    pub redirect_uri: &'a str,
    /// Space-separated scopes, including `openid`.
    pub scope: &'a str,
    /// The API identifier (Auth0's `audience` parameter), when configured.
    pub audience: Option<&'a str>,
    /// The fresh `state` of this attempt.
    pub state: &'a State,
    /// The fresh `nonce` of this attempt.
    pub nonce: &'a Nonce,
    /// `none` for silent authentication, `login` to force the login page, …
    pub prompt: Option<&'a str>,
    /// Pre-fills the login form.
    pub login_hint: Option<&'a str>,
    /// `web_message` for silent authentication when the provider supports it.
    pub response_mode: Option<&'a str>,
}

impl<'a> AuthorizeRequest<'a> {
    /// The request `config` makes at `metadata`'s endpoint, with no `prompt`, `login_hint` or
    /// `response_mode`: interactive and silent logins differ only in those.
    pub fn new(
        config: &'a AuthConfig,
        metadata: &'a ProviderMetadata,
        redirect_uri: &'a str,
        scope: &'a str,
        state: &'a State,
        nonce: &'a Nonce,
    ) -> Self {
        AuthorizeRequest {
            authorization_endpoint: &metadata.authorization_endpoint,
            response_type: config.response_type.as_str(),
            client_id: &config.client_id,
            redirect_uri,
            scope,
            audience: config.audience.as_deref(),
            state,
            nonce,
            prompt: None,
            login_hint: None,
            response_mode: None,
        }
    }

    /// The full `/authorize` URL to navigate to (or to load in the silent-auth iframe).
    pub fn to_url(&self) -> String {
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", self.response_type),
            ("client_id", self.client_id),
            ("redirect_uri", self.redirect_uri),
            ("scope", self.scope),
        ];
        if let Some(audience) = self.audience {
            params.push(("audience", audience));
        }
        params.push(("state", self.state.secret()));
        params.push(("nonce", self.nonce.secret()));
        let optional = [
            ("prompt", self.prompt),
            ("login_hint", self.login_hint),
            ("response_mode", self.response_mode),
        ];
        params.extend(optional.iter().filter_map(|(k, v)| v.map(|v| (*k, v))));
        append_query(self.authorization_endpoint, &params)
    }
}

/// The provider logout URL that returns the browser to `return_to`.
///
/// With an advertised `end_session_endpoint` (OIDC RP-Initiated Logout 1.0):
/// `post_logout_redirect_uri`, `client_id` and, when given, `id_token_hint`.
/// Otherwise Auth0's `{issuer}v2/logout?client_id=…&returnTo=…`.
pub fn logout_url(
    meta: &ProviderMetadata,
    issuer: &str,
    client_id: &str,
    return_to: &str,
    id_token_hint: Option<&IdToken>,
) -> String {
    match meta.end_session_endpoint.as_deref() {
        Some(endpoint) => {
            let mut params = vec![
                ("client_id", client_id),
                ("post_logout_redirect_uri", return_to),
            ];
            if let Some(hint) = id_token_hint {
                params.push(("id_token_hint", hint.secret()));
            }
            append_query(endpoint, &params)
        }
        None => {
            let slash = if issuer.ends_with('/') { "" } else { "/" };
            append_query(
                &format!("{issuer}{slash}v2/logout"),
                &[("client_id", client_id), ("returnTo", return_to)],
            )
        }
    }
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

    fn meta(end_session: Option<&str>) -> ProviderMetadata {
        ProviderMetadata {
            issuer: "https://t.eu.auth0.com/".into(),
            authorization_endpoint: "https://t.eu.auth0.com/authorize".into(),
            jwks_uri: "https://t.eu.auth0.com/.well-known/jwks.json".into(),
            userinfo_endpoint: None,
            end_session_endpoint: end_session.map(str::to_owned),
            response_modes_supported: None,
            id_token_signing_alg_values_supported: None,
        }
    }

    #[test]
    fn a_request_built_from_the_config_carries_its_client_response_type_and_audience() {
        // OIDC Core 3.2.2.1: response_type, client_id, redirect_uri, scope, state and nonce;
        // Auth0's `audience` picks the API.
        let config = crate::RawAuthConfig {
            issuer: Some("https://t.eu.auth0.com/".into()),
            client_id: Some("spa".into()),
            audience: Some("https://api.example".into()),
            ..Default::default()
        }
        .validate()
        .unwrap();
        let metadata = meta(None);
        let state = State::new("s1".into());
        let nonce = Nonce::new("n1".into());
        let url = AuthorizeRequest {
            prompt: Some("none"),
            ..AuthorizeRequest::new(
                &config,
                &metadata,
                "https://app/callback",
                "openid",
                &state,
                &nonce,
            )
        }
        .to_url();
        assert!(
            url.starts_with("https://t.eu.auth0.com/authorize?"),
            "{url}"
        );
        for part in [
            "response_type=id_token%20token",
            "client_id=spa",
            "redirect_uri=https%3A%2F%2Fapp%2Fcallback",
            "audience=https%3A%2F%2Fapi.example",
            "state=s1",
            "nonce=n1",
            "prompt=none",
        ] {
            assert!(url.contains(part), "{part} missing from {url}");
        }
        assert!(!url.contains("login_hint"), "{url}");
    }

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
    fn the_authorize_url_carries_every_parameter_encoded() {
        // OIDC Core 3.2.2.1: response_type, client_id, redirect_uri, scope, state, nonce.
        let state = State::new("st/ate".into());
        let nonce = Nonce::new("n+once".into());
        let req = AuthorizeRequest {
            authorization_endpoint: "https://id.example/authorize",
            response_type: "id_token token",
            client_id: "spa",
            redirect_uri: "http://localhost:8080/callback",
            scope: "openid profile",
            audience: Some("https://api.example"),
            state: &state,
            nonce: &nonce,
            prompt: None,
            login_hint: None,
            response_mode: None,
        };
        assert_eq!(
            req.to_url(),
            "https://id.example/authorize?response_type=id_token%20token&client_id=spa\
             &redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fcallback&scope=openid%20profile\
             &audience=https%3A%2F%2Fapi.example&state=st%2Fate&nonce=n%2Bonce"
        );
        let silent = AuthorizeRequest {
            audience: None,
            prompt: Some("none"),
            login_hint: Some("a@b.c"),
            response_mode: Some("web_message"),
            ..req
        };
        let url = silent.to_url();
        assert!(!url.contains("audience="));
        assert!(url.ends_with("&prompt=none&login_hint=a%40b.c&response_mode=web_message"));
    }

    #[test]
    fn logout_uses_the_advertised_end_session_endpoint() {
        // OIDC RP-Initiated Logout 1.0: post_logout_redirect_uri, client_id, id_token_hint.
        let m = meta(Some("https://id.example/logout"));
        let hint = IdToken::new("a.b.c".into());
        assert_eq!(
            logout_url(
                &m,
                "https://id.example/",
                "spa",
                "http://localhost:8080",
                Some(&hint)
            ),
            "https://id.example/logout?client_id=spa\
             &post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A8080&id_token_hint=a.b.c"
        );
        assert!(!logout_url(&m, "https://id.example/", "spa", "x", None).contains("id_token_hint"));
    }

    #[test]
    fn logout_falls_back_to_auth0_v2_logout() {
        // Issue 4: Auth0's /v2/logout when no end_session_endpoint is advertised.
        let m = meta(None);
        assert_eq!(
            logout_url(
                &m,
                "https://t.eu.auth0.com/",
                "spa",
                "https://app.example",
                None
            ),
            "https://t.eu.auth0.com/v2/logout?client_id=spa&returnTo=https%3A%2F%2Fapp.example"
        );
        assert!(logout_url(&m, "https://t.eu.auth0.com", "spa", "x", None)
            .starts_with("https://t.eu.auth0.com/v2/logout?"));
    }

    #[test]
    fn origin_of_normalizes_scheme_host_and_default_port() {
        // Issue 6: messages are accepted only from the exact expected origin.
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
