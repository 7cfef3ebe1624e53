//! Parsing the authorization response from the URL fragment (OAuth 2.0 implicit grant,
//! RFC 6749 4.2.2, and OIDC Core 3.2.2.5).
//!
//! Strict on purpose: a repeated parameter, broken percent-encoding or an oversized
//! fragment is an error, never a best guess.

use crate::config::ResponseType;
use crate::error::{truncate, FragmentError, ValidationError};
use crate::secret::{AccessToken, AuthorizationCode, IdToken, Redacted, RefreshToken, State};
use std::fmt;

/// Largest fragment accepted, in bytes. Real responses (two tokens and a few short
/// parameters) stay well under it.
pub const MAX_FRAGMENT_LEN: usize = 16 * 1024;

/// A successful implicit-flow response. Nothing in it is trusted yet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenResponse {
    /// The access token, when `response_type` included `token`.
    pub access_token: Option<AccessToken>,
    /// The ID token, still to be validated.
    pub id_token: Option<IdToken>,
    /// Should be `Bearer` when an access token is present.
    pub token_type: Option<String>,
    /// Access token lifetime in seconds.
    pub expires_in: Option<u64>,
    /// Granted scopes, when the provider says they differ from the requested ones.
    pub scope: Option<String>,
    /// The `state` echoed by the provider.
    pub state: Option<State>,
    /// A refresh token, only ever from the token endpoint (RFC 6749 §4.2.2: the implicit
    /// grant never issues one, and the fragment parser never reads one).
    pub refresh_token: Option<RefreshToken>,
}

/// A successful authorization code response (RFC 6749 §4.1.2). Nothing in it is trusted
/// yet: `state` must match a pending login and `iss` the issuer (RFC 9207) before the code
/// is redeemed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeResponse {
    /// The single-use authorization code.
    pub code: AuthorizationCode,
    /// The `state` echoed by the provider.
    pub state: Option<State>,
    /// The issuer that sent the response (RFC 9207), when it said.
    pub iss: Option<String>,
}

/// An error response (RFC 6749 4.2.2.1, OIDC Core 3.1.2.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    /// The error code (`access_denied`, `login_required`, …); see
    /// [`crate::describe_oauth_error`].
    pub error: String,
    /// The provider's human-readable text; show it only as escaped text.
    pub error_description: Option<String>,
    /// The `state` echoed by the provider.
    pub state: Option<State>,
    /// The issuer that sent the response (RFC 9207), when it said.
    pub iss: Option<String>,
}

/// What came back in the fragment (or, for the code flow, the query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizationResponse {
    /// Tokens (not yet validated): the implicit grant.
    Success(TokenResponse),
    /// An authorization code (not yet redeemed): the code flow.
    Code(CodeResponse),
    /// An error from the provider.
    Error(ErrorResponse),
}

impl AuthorizationResponse {
    /// The echoed `state`, whichever kind of response this is.
    pub fn state(&self) -> Option<&State> {
        match self {
            Self::Success(r) => r.state.as_ref(),
            Self::Code(r) => r.state.as_ref(),
            Self::Error(r) => r.state.as_ref(),
        }
    }
}

impl TokenResponse {
    /// RFC 6749 4.2.2: with an access token, `token_type` must be `Bearer` (compared
    /// case-insensitively, RFC 6749 5.1); the SPA only knows how to use bearer tokens, and DPoP
    /// tokens when it sent a proof (`dpop`): then it must be `DPoP` (RFC 9449 §5), and a
    /// `Bearer` answer is an unbound token the app refuses rather than sends.
    pub fn check_token_type(&self, dpop: bool) -> Result<(), ValidationError> {
        if self.access_token.is_none() {
            return Ok(());
        }
        let is = |name: &str| {
            self.token_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(name))
        };
        match (dpop, is("bearer"), is("dpop")) {
            (false, true, _) | (true, _, true) => Ok(()),
            (true, true, _) => Err(ValidationError::NotDpopBound),
            _ => Err(ValidationError::TokenType),
        }
    }

    /// When the access token expires, in unix seconds, for a response received at `now`.
    pub fn expires_at(&self, now: i64) -> Option<i64> {
        let secs = i64::try_from(self.expires_in?).unwrap_or(i64::MAX);
        Some(now.saturating_add(secs))
    }

    /// Checks that the tokens `response_type` asked for are all there (OIDC Core 3.2.2.5).
    pub fn check_response_type(&self, response_type: ResponseType) -> Result<(), ValidationError> {
        if self.id_token.is_none() {
            return Err(ValidationError::MissingIdToken);
        }
        if response_type.includes_access_token() && self.access_token.is_none() {
            return Err(ValidationError::MissingAccessToken);
        }
        Ok(())
    }
}

/// Parses `#access_token=…&id_token=…&state=…` (with or without the `#`) as
/// `application/x-www-form-urlencoded`.
///
/// Rejects: an empty or oversized fragment, any repeated parameter (RFC 6749 3.1),
/// broken percent-encoding, non-UTF-8 values, a non-numeric `expires_in`, an empty
/// token, and a fragment carrying neither `error` nor any token. An `error` wins over
/// tokens in the same fragment, so no token of an error response is ever used.
pub fn parse_fragment(fragment: &str) -> Result<AuthorizationResponse, FragmentError> {
    if fragment.len() > MAX_FRAGMENT_LEN {
        return Err(FragmentError::TooLarge);
    }
    let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
    if fragment.is_empty() {
        return Err(FragmentError::Empty);
    }
    let mut pairs = Vec::new();
    for pair in fragment.split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        pairs.push((decode_form(raw_name)?, decode_form(raw_value)?));
    }
    from_pairs(pairs)
}

/// Builds a response from already-decoded parameters, with the same rules as
/// [`parse_fragment`] (size, duplicates, tokens, `expires_in`). For silent authentication
/// with `response_mode=web_message`, where the provider posts the parameters as a
/// JavaScript object instead of a fragment: the same validation path either way.
pub fn from_pairs<I, K, V>(pairs: I) -> Result<AuthorizationResponse, FragmentError>
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<String>,
{
    let mut params = Params(Vec::new());
    let mut total = 0usize;
    for (name, value) in pairs {
        let (name, value) = (name.into(), value.into());
        total = total.saturating_add(name.len() + value.len() + 2);
        if total > MAX_FRAGMENT_LEN {
            return Err(FragmentError::TooLarge);
        }
        if params.0.iter().any(|(known, _)| *known == name) {
            return Err(FragmentError::DuplicateParameter {
                name: truncate(&name, 40),
            });
        }
        params.0.push((name, value));
    }
    if params.0.is_empty() {
        return Err(FragmentError::Empty);
    }

    let state = params.remove("state").map(State::new);
    let iss = params.remove("iss");
    if let Some(error) = params.remove("error") {
        return Ok(AuthorizationResponse::Error(ErrorResponse {
            error,
            error_description: params.remove("error_description"),
            state,
            iss,
        }));
    }

    let access_token = non_empty(&mut params, "access_token")?.map(AccessToken::new);
    let id_token = non_empty(&mut params, "id_token")?.map(IdToken::new);
    if let Some(code) = non_empty(&mut params, "code")? {
        // Hybrid responses (code and tokens together) are not a flow this app offers.
        if access_token.is_some() || id_token.is_some() {
            return Err(FragmentError::MixedResponse);
        }
        return Ok(AuthorizationResponse::Code(CodeResponse {
            code: AuthorizationCode::new(code),
            state,
            iss,
        }));
    }
    if access_token.is_none() && id_token.is_none() {
        return Err(FragmentError::NoTokens);
    }
    let expires_in = match params.remove("expires_in") {
        None => None,
        Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            Some(v.parse().map_err(|_| FragmentError::InvalidExpiresIn)?)
        }
        Some(_) => return Err(FragmentError::InvalidExpiresIn),
    };
    Ok(AuthorizationResponse::Success(TokenResponse {
        access_token,
        id_token,
        token_type: params.remove("token_type"),
        expires_in,
        scope: params.remove("scope"),
        state,
        refresh_token: None,
    }))
}

/// Whether `fragment` has a `state`, `access_token`, `id_token` or `error` parameter,
/// i.e. whether it should be handled (and cleared from the address bar) as an
/// authorization response rather than left to the page as an in-page anchor.
pub fn looks_like_authorization_response(fragment: &str) -> bool {
    let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
    fragment.split('&').any(|pair| {
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        matches!(
            name,
            "state" | "access_token" | "id_token" | "code" | "error"
        )
    })
}

/// The parameters an authorization response can carry (RFC 6749 §4.1.2, §4.2.2 and §5.1,
/// OIDC Core §3.2.2.5, OIDC Session Management §3, RFC 9207 §2).
const RESPONSE_PARAMETERS: &[&str] = &[
    "access_token",
    "id_token",
    "token_type",
    "expires_in",
    "refresh_token",
    "scope",
    "state",
    "code",
    "iss",
    "session_state",
    "error",
    "error_description",
    "error_uri",
];

/// A query string split into an authorization response and the rest. The response carries a
/// code or tokens, so `Debug` prints it as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct SplitQuery {
    /// The authorization-response parameters, as they were written (`a=1&b=2`, no `?`).
    pub response: String,
    /// Every other parameter, as written (empty when there is none).
    pub rest: String,
}

impl fmt::Debug for SplitQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SplitQuery")
            .field("response", &Redacted)
            .field("rest", &self.rest)
            .finish()
    }
}

/// Takes the authorization response out of a query string (`?…`, the `?` optional): when the
/// query carries a token, a code or an error, every response parameter (`state`, `iss`,
/// `error_description`, …) moves to [`SplitQuery::response`] and the others stay in
/// [`SplitQuery::rest`], in order. `None` when the query is no authorization response.
///
/// The implicit grant returns tokens in the fragment (RFC 6749 §4.2.2); tokens in a query were
/// sent by a misconfigured provider or a crafted link, and the query goes to servers and logs
/// (RFC 9700 §4.3.2), so the app removes them from the address bar before anything else.
pub fn split_query(search: &str) -> Option<SplitQuery> {
    let search = search.strip_prefix('?').unwrap_or(search);
    let name_of = |pair: &str| pair.split_once('=').map_or(pair, |(n, _)| n).to_owned();
    let pairs = || search.split('&').filter(|p| !p.is_empty());
    let triggers = ["access_token", "id_token", "refresh_token", "code", "error"];
    // Names are compared after decoding, so `%63ode` cannot slip past.
    let decoded = |pair: &str| decode_form(&name_of(pair)).unwrap_or_else(|_| name_of(pair));
    if !pairs().any(|p| triggers.contains(&decoded(p).as_str())) {
        return None;
    }
    let (response, rest): (Vec<&str>, Vec<&str>) =
        pairs().partition(|p| RESPONSE_PARAMETERS.contains(&decoded(p).as_str()));
    Some(SplitQuery {
        response: response.join("&"),
        rest: rest.join("&"),
    })
}

/// Decoded parameters, each name once. A response has a handful, and the size limit bounds
/// them, so a list serves (a map would bring its own code into the download for nothing).
struct Params(Vec<(String, String)>);

impl Params {
    /// Takes the value of `name` out, if it is there.
    fn remove(&mut self, name: &str) -> Option<String> {
        let at = self.0.iter().position(|(known, _)| known == name)?;
        Some(self.0.swap_remove(at).1)
    }
}

fn non_empty(params: &mut Params, name: &'static str) -> Result<Option<String>, FragmentError> {
    match params.remove(name) {
        Some(v) if v.is_empty() => Err(FragmentError::EmptyParameter { name }),
        other => Ok(other),
    }
}

/// `application/x-www-form-urlencoded` decoding of one name or value.
fn decode_form(s: &str) -> Result<String, FragmentError> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex);
                let lo = bytes.get(i + 2).copied().and_then(hex);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(FragmentError::InvalidPercentEncoding),
                }
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| FragmentError::InvalidUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn success(f: &str) -> TokenResponse {
        match parse_fragment(f) {
            Ok(AuthorizationResponse::Success(r)) => r,
            other => panic!("expected success, got {other:?}"),
        }
    }

    #[test]
    fn a_query_with_tokens_is_split_from_the_app_s_own_parameters() {
        // RFC 9700 §4.3.2: response parameters in a query are taken out; the app's stay.
        let split = split_query("?tab=2&access_token=at&state=s&id_token=a.b.c&x=%20y").unwrap();
        assert_eq!(split.response, "access_token=at&state=s&id_token=a.b.c");
        assert_eq!(split.rest, "tab=2&x=%20y");
        let split = split_query("code=c&state=s&iss=https%3A%2F%2Fid.example%2F").unwrap();
        assert_eq!(
            split.response,
            "code=c&state=s&iss=https%3A%2F%2Fid.example%2F"
        );
        assert_eq!(split.rest, "");
        let split = split_query("?error=access_denied&error_description=no").unwrap();
        assert_eq!(split.response, "error=access_denied&error_description=no");
        // Encoded names are recognised too.
        let split = split_query("?%63ode=c&a=1").unwrap();
        assert_eq!(split.response, "%63ode=c");
        assert_eq!(split.rest, "a=1");
    }

    #[test]
    fn a_query_without_tokens_codes_or_errors_is_left_alone() {
        // An app's own query (or a lone `state`) is not an authorization response.
        for search in [
            "",
            "?",
            "?tab=2",
            "?state=s",
            "?scope=x&iss=y",
            "?codes=1&errors=2",
        ] {
            assert_eq!(split_query(search), None, "{search:?}");
        }
    }

    #[test]
    fn a_code_response_is_parsed_with_its_state_and_iss() {
        // RFC 6749 §4.1.2 and RFC 9207 §2: code, state and iss.
        match parse_fragment(
            "code=SplxlOBeZQQYbYS6WxSbIA&state=xyz&iss=https%3A%2F%2Fid.example%2F",
        )
        .unwrap()
        {
            AuthorizationResponse::Code(r) => {
                assert_eq!(r.code.secret(), "SplxlOBeZQQYbYS6WxSbIA");
                assert_eq!(r.state.unwrap().secret(), "xyz");
                assert_eq!(r.iss.as_deref(), Some("https://id.example/"));
            }
            other => panic!("expected a code response, got {other:?}"),
        }
        match parse_fragment("error=access_denied&state=s&iss=https%3A%2F%2Fid.example%2F").unwrap()
        {
            AuthorizationResponse::Error(e) => {
                assert_eq!(e.iss.as_deref(), Some("https://id.example/"))
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn a_code_with_tokens_a_second_code_or_an_empty_code_is_refused() {
        // Hybrid flows are never asked for; RFC 6749 §3.1: parameters must not repeat.
        assert_eq!(
            parse_fragment("code=c&id_token=a.b.c&state=s"),
            Err(FragmentError::MixedResponse)
        );
        assert_eq!(
            parse_fragment("code=c&state=s&code=d"),
            Err(FragmentError::DuplicateParameter {
                name: "code".into()
            })
        );
        assert_eq!(
            parse_fragment("code=&state=s"),
            Err(FragmentError::EmptyParameter { name: "code" })
        );
        assert!(looks_like_authorization_response("#code=c&state=s"));
    }

    #[test]
    fn a_full_implicit_response_is_parsed() {
        // RFC 6749 4.2.2 / OIDC Core 3.2.2.5: the response parameters.
        let r = success("#access_token=at.1&id_token=a.b.c&token_type=Bearer&expires_in=7200&scope=openid%20profile&state=xyz&extra=ignored");
        assert_eq!(r.access_token.as_ref().unwrap().secret(), "at.1");
        assert_eq!(r.id_token.as_ref().unwrap().secret(), "a.b.c");
        assert_eq!(r.token_type.as_deref(), Some("Bearer"));
        assert_eq!(r.expires_in, Some(7200));
        assert_eq!(r.scope.as_deref(), Some("openid profile"));
        assert_eq!(r.state.as_ref().unwrap().secret(), "xyz");
    }

    #[test]
    fn the_leading_hash_is_optional() {
        // Both location.hash ("#…") and a hash handed over by postMessage must work.
        assert_eq!(
            success("id_token=a.b.c&state=s"),
            success("#id_token=a.b.c&state=s")
        );
    }

    #[test]
    fn plus_means_space_and_percent_escapes_are_decoded() {
        // application/x-www-form-urlencoded: '+' is a space, %XX a byte, UTF-8 decoded.
        let r = success("id_token=t&scope=openid+profile%20email&state=%C3%A9%2B");
        assert_eq!(r.scope.as_deref(), Some("openid profile email"));
        assert_eq!(r.state.unwrap().secret(), "é+");
    }

    #[test]
    fn a_repeated_parameter_is_rejected() {
        // RFC 6749 3.1: parameters must not be included more than once.
        for f in [
            "id_token=a&id_token=b&state=s",
            "id_token=a&state=s&state=t",
            "id_token=a&st%61te=s&state=s",
            "id_token=a&x=1&x=1",
        ] {
            assert!(
                matches!(
                    parse_fragment(f),
                    Err(FragmentError::DuplicateParameter { .. })
                ),
                "{f}"
            );
        }
    }

    #[test]
    fn broken_percent_encoding_is_rejected() {
        // No best guess on malformed input.
        for f in [
            "id_token=a%&state=s",
            "id_token=a%4&state=s",
            "id_token=a%zz",
            "id_t%oken=a",
        ] {
            assert_eq!(
                parse_fragment(f),
                Err(FragmentError::InvalidPercentEncoding),
                "{f}"
            );
        }
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        // Decoded values must be UTF-8 text.
        assert_eq!(
            parse_fragment("id_token=%FF%FE"),
            Err(FragmentError::InvalidUtf8)
        );
    }

    #[test]
    fn a_huge_fragment_is_rejected_before_parsing() {
        // Bounded work on hostile input.
        let huge = format!("id_token={}", "a".repeat(MAX_FRAGMENT_LEN));
        assert_eq!(parse_fragment(&huge), Err(FragmentError::TooLarge));
        let just_fits = format!("#id_token={}", "a".repeat(MAX_FRAGMENT_LEN - 10));
        assert!(parse_fragment(&just_fits).is_ok());
    }

    #[test]
    fn an_empty_fragment_is_rejected() {
        // Nothing to handle is an error, not a silent success.
        assert_eq!(parse_fragment(""), Err(FragmentError::Empty));
        assert_eq!(parse_fragment("#"), Err(FragmentError::Empty));
    }

    #[test]
    fn a_fragment_without_tokens_or_error_is_rejected() {
        // A response must carry tokens or an error.
        assert_eq!(
            parse_fragment("#state=s&token_type=Bearer"),
            Err(FragmentError::NoTokens)
        );
        assert_eq!(parse_fragment("#section-2"), Err(FragmentError::NoTokens));
    }

    #[test]
    fn an_empty_token_is_rejected() {
        // An empty token can never validate; say so precisely.
        assert_eq!(
            parse_fragment("id_token=&state=s"),
            Err(FragmentError::EmptyParameter { name: "id_token" })
        );
    }

    #[test]
    fn a_non_numeric_expires_in_is_rejected() {
        // RFC 6749 4.2.2: expires_in is a number of seconds.
        for v in ["abc", "-5", "1.5", "", "99999999999999999999999"] {
            let f = format!("access_token=a&expires_in={v}");
            assert_eq!(
                parse_fragment(&f),
                Err(FragmentError::InvalidExpiresIn),
                "{v}"
            );
        }
    }

    #[test]
    fn an_error_response_is_parsed_and_wins_over_tokens() {
        // RFC 6749 4.2.2.1: error, error_description, state.
        let r = parse_fragment(
            "#error=access_denied&error_description=User+said+no&state=s&access_token=leak",
        )
        .unwrap();
        match r {
            AuthorizationResponse::Error(e) => {
                assert_eq!(e.error, "access_denied");
                assert_eq!(e.error_description.as_deref(), Some("User said no"));
                assert_eq!(e.state.unwrap().secret(), "s");
            }
            other => panic!("expected error, got {other:?}"),
        }
    }

    #[test]
    fn a_missing_state_is_reported_as_none_for_the_transaction_check_to_refuse() {
        // OIDC Core 3.2.2.5: state is required when sent; the transaction store refuses None.
        let r = parse_fragment("id_token=a.b.c").unwrap();
        assert!(r.state().is_none());
    }

    #[test]
    fn token_type_must_be_bearer_when_an_access_token_is_present() {
        // RFC 6749 4.2.2 / 5.1: token_type is required and case-insensitive.
        assert_eq!(
            success("access_token=a&token_type=bearer").check_token_type(false),
            Ok(())
        );
        for other in ["mac", "DPoP"] {
            assert_eq!(
                success(&format!("access_token=a&token_type={other}")).check_token_type(false),
                Err(ValidationError::TokenType)
            );
        }
        assert_eq!(
            success("access_token=a").check_token_type(false),
            Err(ValidationError::TokenType)
        );
        assert_eq!(success("id_token=a").check_token_type(false), Ok(()));
    }

    #[test]
    fn after_a_dpop_request_only_a_dpop_token_is_accepted_and_a_bearer_one_is_named() {
        // RFC 9449 §5: a DPoP-bound token comes back as `token_type: DPoP`; a `Bearer` answer
        // means the provider did not bind it, and the app refuses it with its own sentence.
        for dpop in ["DPoP", "dpop"] {
            assert_eq!(
                success(&format!("access_token=a&token_type={dpop}")).check_token_type(true),
                Ok(())
            );
        }
        assert_eq!(
            success("access_token=a&token_type=Bearer").check_token_type(true),
            Err(ValidationError::NotDpopBound)
        );
        assert!(ValidationError::NotDpopBound
            .to_string()
            .contains("not bound"));
        for other in ["access_token=a", "access_token=a&token_type=mac"] {
            assert_eq!(
                success(other).check_token_type(true),
                Err(ValidationError::TokenType)
            );
        }
    }

    #[test]
    fn the_tokens_asked_for_must_all_be_present() {
        // OIDC Core 3.2.2.5: id_token always; access_token for `id_token token`.
        let only_at = success("access_token=a&token_type=Bearer");
        assert_eq!(
            only_at.check_response_type(ResponseType::IdTokenToken),
            Err(ValidationError::MissingIdToken)
        );
        let only_id = success("id_token=a");
        assert_eq!(
            only_id.check_response_type(ResponseType::IdTokenToken),
            Err(ValidationError::MissingAccessToken)
        );
        assert_eq!(only_id.check_response_type(ResponseType::IdToken), Ok(()));
    }

    #[test]
    fn web_message_parameters_go_through_the_same_rules() {
        // A silent (web_message) result goes through exactly the same parser rules.
        let r = from_pairs([("id_token", "a.b.c"), ("state", "s"), ("expires_in", "60")]).unwrap();
        assert_eq!(r.state().unwrap().secret(), "s");
        assert_eq!(
            from_pairs([("error", "login_required"), ("state", "s")]),
            parse_fragment("error=login_required&state=s")
        );
        assert!(matches!(
            from_pairs([("id_token", "a"), ("id_token", "b")]),
            Err(FragmentError::DuplicateParameter { .. })
        ));
        assert_eq!(from_pairs([("state", "s")]), Err(FragmentError::NoTokens));
        assert_eq!(
            from_pairs(Vec::<(String, String)>::new()),
            Err(FragmentError::Empty)
        );
        let huge = "a".repeat(MAX_FRAGMENT_LEN);
        assert_eq!(
            from_pairs([("id_token", huge)]),
            Err(FragmentError::TooLarge)
        );
    }

    #[test]
    fn expiry_is_computed_from_expires_in_without_overflow() {
        // RFC 6749 4.2.2: expires_in is the access token's lifetime, which schedules renewal.
        assert_eq!(
            success("access_token=a&expires_in=7200").expires_at(1000),
            Some(8200)
        );
        assert_eq!(success("access_token=a").expires_at(1000), None);
        let max = format!("access_token=a&expires_in={}", u64::MAX);
        assert_eq!(success(&max).expires_at(1000), Some(i64::MAX));
    }

    #[test]
    fn authorization_responses_are_told_apart_from_anchors() {
        // Only real responses are consumed and cleared from the address bar; anchors stay.
        assert!(looks_like_authorization_response("#access_token=x"));
        assert!(looks_like_authorization_response(
            "a=1&error=login_required"
        ));
        assert!(looks_like_authorization_response("#state=x"));
        assert!(looks_like_authorization_response("id_token"));
        assert!(!looks_like_authorization_response("#top"));
        assert!(!looks_like_authorization_response(
            "#my_state=1&xid_token=2"
        ));
        assert!(!looks_like_authorization_response(""));
    }

    // Rule: tokens, codes and verifiers are never logged: each response type prints them as
    // `[redacted]`.
    #[test]
    fn a_token_response_prints_its_tokens_and_state_redacted() {
        let response = parse_fragment(
            "#access_token=AT-s3cr3t&id_token=ID-s3cr3t&token_type=Bearer&state=ST-s3cr3t",
        )
        .unwrap();
        let AuthorizationResponse::Success(tokens) = &response else {
            panic!("expected tokens, got {response:?}");
        };
        for printed in [format!("{response:?}"), format!("{tokens:?}")] {
            crate::secret::assert_redacted(&printed, &["AT-s3cr3t", "ID-s3cr3t", "ST-s3cr3t"]);
        }
    }

    #[test]
    fn a_code_response_prints_its_code_and_state_redacted() {
        let response = parse_fragment("code=CODE-s3cr3t&state=ST-s3cr3t").unwrap();
        let AuthorizationResponse::Code(code) = &response else {
            panic!("expected a code, got {response:?}");
        };
        for printed in [format!("{response:?}"), format!("{code:?}")] {
            crate::secret::assert_redacted(&printed, &["CODE-s3cr3t", "ST-s3cr3t"]);
        }
    }

    #[test]
    fn an_error_response_prints_its_state_redacted() {
        let response = parse_fragment("error=login_required&state=ST-s3cr3t").unwrap();
        let AuthorizationResponse::Error(error) = &response else {
            panic!("expected an error, got {response:?}");
        };
        for printed in [format!("{response:?}"), format!("{error:?}")] {
            crate::secret::assert_redacted(&printed, &["ST-s3cr3t"]);
        }
    }

    #[test]
    fn a_split_query_prints_the_response_redacted_and_keeps_the_rest() {
        let split = split_query("?code=CODE-s3cr3t&state=ST-s3cr3t&page=2").unwrap();
        let printed = format!("{split:?}");
        crate::secret::assert_redacted(&printed, &["CODE-s3cr3t", "ST-s3cr3t"]);
        assert!(printed.contains("page=2"), "{printed}");
    }
}
