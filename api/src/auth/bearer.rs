//! Finding the access token in a request (RFC 6750 §2, RFC 9449 §7.1), and refusing it
//! anywhere else.
//!
//! Only the `Authorization: Bearer <token>` and `Authorization: DPoP <token>` headers are
//! accepted (the latter with one `DPoP` proof header). A token in the query
//! (`?access_token=`) or in a form body is refused with `invalid_request`, even when the
//! header is also present (RFC 6750 §3.1: "uses more than one method").

use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::{AppError, Scheme};

/// The `DPoP` request header (RFC 9449 §4.1).
pub const DPOP: axum::http::HeaderName = axum::http::HeaderName::from_static("dpop");

/// Longest `Authorization` header we read; a longer one is refused before any parsing.
pub const MAX_AUTHORIZATION_LEN: usize = 8 * 1024;

/// A bearer token as received. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(String);

impl BearerToken {
    /// The token itself. Do not log it.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken([redacted])")
    }
}

/// True when a query string or form body names an `access_token` parameter.
pub fn names_access_token(urlencoded: &[u8]) -> bool {
    url::form_urlencoded::parse(urlencoded).any(|(key, _)| key == "access_token")
}

/// The bearer token of a request, or the RFC 6750 error that fits. A `DPoP` authorization
/// counts as no bearer credentials here; [`access_token`] reads both schemes.
pub fn bearer_token(parts: &Parts) -> Result<BearerToken, AppError> {
    match access_token(parts)? {
        (Scheme::Bearer, token) => Ok(token),
        (Scheme::Dpop, _) => Err(AppError::MissingToken),
    }
}

/// The scheme of the `Authorization` header, read without checking anything else: how to
/// address the answer's challenges.
pub fn scheme_of(headers: &axum::http::HeaderMap) -> Scheme {
    let dpop = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.as_bytes().get(..5))
        .is_some_and(|s| s.eq_ignore_ascii_case(b"dpop "));
    if dpop {
        Scheme::Dpop
    } else {
        Scheme::Bearer
    }
}

/// The access token of a request with its scheme (`Bearer`, or `DPoP`, RFC 9449 §7.1), or
/// the RFC 6750 error that fits.
pub fn access_token(parts: &Parts) -> Result<(Scheme, BearerToken), AppError> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let header = values.next();
    if values.next().is_some() {
        return Err(AppError::invalid_request(
            "send exactly one authorization header",
        ));
    }
    let in_query = parts
        .uri
        .query()
        .is_some_and(|q| names_access_token(q.as_bytes()));
    if in_query {
        return Err(AppError::invalid_request(if header.is_some() {
            "send the access token once, in the authorization header only"
        } else {
            "access tokens are accepted only in the authorization header, not in the url"
        }));
    }
    let Some(header) = header else {
        return Err(AppError::MissingToken);
    };
    if header.len() > MAX_AUTHORIZATION_LEN {
        return Err(AppError::invalid_request(
            "the authorization header is too large",
        ));
    }
    let value = visible_ascii(header.as_bytes())
        .ok_or_else(|| AppError::invalid_request("the authorization header is not ascii"))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        // RFC 6750 §3.1: credentials of another scheme mean no bearer credentials at all.
        return Err(AppError::MissingToken);
    };
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(AppError::invalid_request("the bearer token is empty"));
    }
    if !is_b64token(token) {
        return Err(AppError::invalid_request("the bearer token is malformed"));
    }
    Ok((scheme, BearerToken(token.to_owned())))
}

/// The one `DPoP` proof header of a request (RFC 9449 §4.3 step 1).
pub fn dpop_proof(parts: &Parts) -> Result<&str, AppError> {
    let mut values = parts.headers.get_all(DPOP).iter();
    let (Some(proof), None) = (values.next(), values.next()) else {
        return Err(AppError::invalid_dpop_proof(
            "send exactly one dpop proof header with a dpop access token",
        ));
    };
    proof
        .to_str()
        .map_err(|_| AppError::invalid_dpop_proof("the dpop proof is not ascii"))
}

/// The header as text if every byte is visible ASCII, a space or a tab: what
/// `HeaderValue::to_str` accepts. Every request with a token reads a long header, so the bytes
/// are checked without an early exit, which the compiler turns into wide comparisons.
fn visible_ascii(bytes: &[u8]) -> Option<&str> {
    let visible = bytes.iter().fold(true, |ok, &b| {
        ok & ((b' '..=b'~').contains(&b) | (b == b'\t'))
    });
    visible.then(|| std::str::from_utf8(bytes).ok()).flatten()
}

/// RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
/// Checked without an early exit, as [`visible_ascii`] is, for the same reason.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().fold(true, |ok, b| {
            ok & (b.is_ascii_alphanumeric()
                | (b == b'-')
                | (b == b'.')
                | (b == b'_')
                | (b == b'~')
                | (b == b'+')
                | (b == b'/'))
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(uri: &str, authorization: &[&str]) -> Parts {
        let mut builder = Request::builder().uri(uri);
        for value in authorization {
            builder = builder.header(AUTHORIZATION, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn code(result: Result<BearerToken, AppError>) -> &'static str {
        match result {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn a_bearer_header_yields_the_token_and_the_scheme_is_case_insensitive() {
        // RFC 6750 §2.1 with RFC 9110 §11.1: the auth scheme is case-insensitive.
        for header in ["Bearer a.b.c", "bearer a.b.c", "BEARER   a.b.c"] {
            let token = bearer_token(&parts("/", &[header])).unwrap();
            assert_eq!(token.secret(), "a.b.c");
        }
    }

    #[test]
    fn no_header_or_another_scheme_is_missing_credentials() {
        // RFC 6750 §3.1: no error code when the client sent no bearer credentials.
        assert_eq!(code(bearer_token(&parts("/", &[]))), "unauthorized");
        assert_eq!(
            code(bearer_token(&parts("/", &["Basic dXNlcjpwYXNz"]))),
            "unauthorized"
        );
    }

    #[test]
    fn an_empty_or_malformed_bearer_token_is_an_invalid_request() {
        // RFC 6750 §2.1: the credentials are one b64token.
        for header in [
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a\"b",
            "Bearer ===",
        ] {
            assert_eq!(
                code(bearer_token(&parts("/", &[header]))),
                "invalid_request",
                "{header}"
            );
        }
    }

    #[test]
    fn a_token_in_the_query_is_refused_with_or_without_the_header() {
        // RFC 6750 §3.1: more than one method, or a method we do not support.
        assert_eq!(
            code(bearer_token(&parts("/?access_token=x", &[]))),
            "invalid_request"
        );
        assert_eq!(
            code(bearer_token(&parts("/?a=1&access_token=x", &["Bearer x"]))),
            "invalid_request"
        );
        assert_eq!(
            code(bearer_token(&parts("/?access%5Ftoken=x", &[]))),
            "invalid_request"
        );
    }

    #[test]
    fn two_authorization_headers_are_an_invalid_request() {
        // RFC 6750 §3.1: more than one method (or header) is invalid_request.
        assert_eq!(
            code(bearer_token(&parts("/", &["Bearer a", "Bearer b"]))),
            "invalid_request"
        );
    }

    #[test]
    fn an_oversized_header_is_an_invalid_request() {
        // Bounded work on hostile input: the header is refused before parsing.
        let huge = format!("Bearer {}", "a".repeat(MAX_AUTHORIZATION_LEN));
        assert_eq!(code(bearer_token(&parts("/", &[&huge]))), "invalid_request");
    }

    #[test]
    fn the_debug_form_of_a_token_is_redacted() {
        // A token is never logged, not even through `{:?}`.
        let token = BearerToken("secret-value".into());
        assert!(!format!("{token:?}").contains("secret"));
    }
}
