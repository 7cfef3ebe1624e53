//! ID token claims and their validation (OIDC Core 3.1.3.7 and 3.2.2.11), and `at_hash`
//! (OIDC Core 3.2.2.9).
//!
//! The caller parses the payload JSON into [`IdTokenClaims`] only after the signature has
//! verified, then runs [`IdTokenVerifier::verify`] and [`check_at_hash`].

use crate::base64url;
use crate::error::ValidationError;
use crate::json::{FromJson, Json, JsonError, ToJson};
use crate::json_object;
use crate::secret::{ct_eq, Nonce};
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The `aud` claim: one string or an array of strings (RFC 7519 4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audience(Vec<String>);

impl Audience {
    /// An audience of the given values.
    pub fn new(values: Vec<String>) -> Self {
        Self(values)
    }

    /// The audience values.
    pub fn values(&self) -> &[String] {
        &self.0
    }

    /// Whether `value` is one of the audiences.
    pub fn contains(&self, value: &str) -> bool {
        self.0.iter().any(|a| a == value)
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => s.serialize_str(one),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AudienceVisitor;
        impl<'de> Visitor<'de> for AudienceVisitor {
            type Value = Audience;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Audience, E> {
                Ok(Audience(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Audience, A::Error> {
                let mut values = Vec::new();
                while let Some(v) = seq.next_element::<String>()? {
                    values.push(v);
                }
                Ok(Audience(values))
            }
        }
        d.deserialize_any(AudienceVisitor)
    }
}

json_object! {
    /// The claims of an ID token this app reads. Missing `iss`, `aud`, `exp` or `iat` is a
    /// reading error (they are required by OIDC Core 2); other claims are ignored.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct IdTokenClaims: FromJson + ToJson {
        /// Issuer.
        pub iss: String = "iss",
        /// Subject: the user's stable id at the provider.
        pub sub: Option<String> = "sub",
        /// Audience(s).
        pub aud: Audience = "aud",
        /// Expiry, unix seconds.
        pub exp: i64 = "exp",
        /// Issued at, unix seconds.
        pub iat: i64 = "iat",
        /// The nonce this app sent. Plain text here: the claims are read only after the login's
        /// transaction is spent, and the app shows them decoded; the secret is the pending
        /// transaction's [`Nonce`].
        pub nonce: Option<String> = "nonce",
        /// Left half of the access token's hash.
        pub at_hash: Option<String> = "at_hash",
        /// Authorized party.
        pub azp: Option<String> = "azp",
        /// When the user authenticated, unix seconds.
        pub auth_time: Option<i64> = "auth_time",
        /// Full name.
        pub name: Option<String> = "name",
        /// Casual name.
        pub nickname: Option<String> = "nickname",
        /// Email address.
        pub email: Option<String> = "email",
        /// Profile picture URL (show it only as an `<img>` source).
        pub picture: Option<String> = "picture",
    }
}

impl FromJson for Audience {
    fn from_json(value: &Json) -> Result<Self, JsonError> {
        match value {
            Json::String(one) => Ok(Audience(vec![one.clone()])),
            Json::Array(_) => Vec::<String>::from_json(value).map(Audience),
            _ => Err(JsonError::expected("a string or an array of strings")),
        }
    }
}

impl ToJson for Audience {
    /// Like the serde writing: one audience as a string, several as an array.
    fn to_json(&self) -> Json {
        match self.0.as_slice() {
            [one] => one.to_json(),
            many => many.to_json(),
        }
    }
}

/// The checks of OIDC Core 3.1.3.7 (steps 2–5, 9, 10) and 3.2.2.11 (nonce), with public,
/// documented settings.
#[derive(Debug, Clone, Copy)]
pub struct IdTokenVerifier<'a> {
    /// The configured issuer; `iss` must equal it exactly.
    pub issuer: &'a str,
    /// This app's client id; must be in `aud`.
    pub client_id: &'a str,
    /// The nonce of the pending transaction.
    pub nonce: &'a Nonce,
    /// Clock skew tolerated on `exp` and `iat`, in seconds. Default 60.
    pub leeway_secs: i64,
    /// How old `iat` may be, in seconds (plus leeway). Default 600: a fresh login's token
    /// is seconds old; an old one is a replay.
    pub max_age_secs: i64,
    /// Audiences besides `client_id` that may appear in `aud`. Default none.
    pub trusted_audiences: &'a [&'a str],
    /// Whether `nonce` must be present. Default true. An ID token from a refresh may omit it
    /// (OIDC Core §12.2 errata); when present it must still equal [`Self::nonce`].
    pub nonce_required: bool,
}

impl<'a> IdTokenVerifier<'a> {
    /// Default [`Self::leeway_secs`].
    pub const DEFAULT_LEEWAY_SECS: i64 = 60;
    /// Default [`Self::max_age_secs`].
    pub const DEFAULT_MAX_AGE_SECS: i64 = 600;

    /// A verifier with the default leeway, maximum age and no extra trusted audiences.
    pub fn new(issuer: &'a str, client_id: &'a str, nonce: &'a Nonce) -> Self {
        Self {
            issuer,
            client_id,
            nonce,
            leeway_secs: Self::DEFAULT_LEEWAY_SECS,
            max_age_secs: Self::DEFAULT_MAX_AGE_SECS,
            trusted_audiences: &[],
            nonce_required: true,
        }
    }

    /// Runs every check in OIDC Core order and returns the first failure.
    /// `now` is the current time in unix seconds.
    pub fn verify(&self, claims: &IdTokenClaims, now: i64) -> Result<(), ValidationError> {
        // 3.1.3.7 step 2: the issuer must match exactly.
        if claims.iss != self.issuer {
            return Err(ValidationError::Issuer);
        }
        // Step 3: aud contains client_id and nothing untrusted.
        let aud = claims.aud.values();
        if !claims.aud.contains(self.client_id) {
            return Err(ValidationError::Audience);
        }
        if aud
            .iter()
            .any(|a| a != self.client_id && !self.trusted_audiences.contains(&a.as_str()))
        {
            return Err(ValidationError::UntrustedAudience);
        }
        // Step 4: with several audiences, azp is required.
        if aud.len() > 1 && claims.azp.is_none() {
            return Err(ValidationError::MissingAuthorizedParty);
        }
        // Step 5: if azp is present it must be this client.
        if claims
            .azp
            .as_deref()
            .is_some_and(|azp| azp != self.client_id)
        {
            return Err(ValidationError::AuthorizedParty);
        }
        let leeway = self.leeway_secs.max(0);
        // Step 9: the current time must be before exp (plus leeway).
        if claims.exp <= now.saturating_sub(leeway) {
            return Err(ValidationError::Expired);
        }
        // Step 10: iat neither in the future nor too far in the past.
        if claims.iat > now.saturating_add(leeway) {
            return Err(ValidationError::IssuedInFuture);
        }
        let oldest = now
            .saturating_sub(self.max_age_secs.max(0))
            .saturating_sub(leeway);
        if claims.iat < oldest {
            return Err(ValidationError::IssuedTooLongAgo);
        }
        // OIDC Core 2: sub is required and identifies the user.
        if claims.sub.as_deref().is_none_or(str::is_empty) {
            return Err(ValidationError::MissingSubject);
        }
        // 3.2.2.11: the nonce must equal the one sent, compared in constant time.
        match claims.nonce.as_deref() {
            None if !self.nonce_required => Ok(()),
            None => Err(ValidationError::MissingNonce),
            Some(n) if ct_eq(n.as_bytes(), self.nonce.secret().as_bytes()) => Ok(()),
            Some(_) => Err(ValidationError::NonceMismatch),
        }
    }
}

/// The `at_hash` value for an access token whose SHA-256 digest is `digest`: the left-most
/// half of the hash (16 bytes for SHA-256), base64url without padding (OIDC Core 3.2.2.9).
pub fn at_hash_from_sha256(digest: &[u8]) -> String {
    base64url::encode(&digest[..digest.len() / 2])
}

/// OIDC Core 3.2.2.9/3.2.2.10: when an access token came back (its SHA-256 digest is
/// given), the ID token must carry `at_hash` and it must match, compared in constant time.
/// Without an access token there is nothing to check.
pub fn check_at_hash(
    claim: Option<&str>,
    access_token_sha256: Option<&[u8]>,
) -> Result<(), ValidationError> {
    let Some(digest) = access_token_sha256 else {
        return Ok(());
    };
    let Some(claim) = claim else {
        return Err(ValidationError::MissingAtHash);
    };
    if ct_eq(at_hash_from_sha256(digest).as_bytes(), claim.as_bytes()) {
        Ok(())
    } else {
        Err(ValidationError::AtHashMismatch)
    }
}

/// OIDC Core 3.1.3.8: in the authorization code flow `at_hash` is optional (the access token
/// came straight from the token endpoint); when the ID token has one, it must match.
pub fn check_at_hash_if_present(
    claim: Option<&str>,
    access_token_sha256: Option<&[u8]>,
) -> Result<(), ValidationError> {
    match claim {
        Some(_) => check_at_hash(claim, access_token_sha256),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sha2::{Digest, Sha256};

    const ISS: &str = "https://id.example/";
    const CLIENT: &str = "spa";
    const NOW: i64 = 1_700_000_000;

    fn claims() -> IdTokenClaims {
        serde_json::from_value(json!({
            "iss": ISS, "sub": "user-1", "aud": CLIENT, "exp": NOW + 3600, "iat": NOW - 5,
            "nonce": "n-0S6_WzA2Mj", "name": "Jane", "email": "jane@example.com",
            "unknown_claim": {"x": 1}
        }))
        .unwrap()
    }

    fn verify(c: &IdTokenClaims) -> Result<(), ValidationError> {
        let nonce = Nonce::new("n-0S6_WzA2Mj".into());
        IdTokenVerifier::new(ISS, CLIENT, &nonce).verify(c, NOW)
    }

    #[test]
    fn a_correct_token_passes_every_check() {
        // OIDC Core 3.1.3.7 / 3.2.2.11: all checks pass for a well-formed token.
        assert_eq!(verify(&claims()), Ok(()));
        assert_eq!(claims().name.as_deref(), Some("Jane"));
    }

    #[test]
    fn aud_may_be_a_string_or_an_array() {
        // RFC 7519 4.1.3: aud is a string or an array of strings.
        let c: IdTokenClaims = serde_json::from_value(json!({
            "iss": ISS, "aud": ["spa", "other"], "exp": 1, "iat": 1
        }))
        .unwrap();
        assert_eq!(c.aud.values(), ["spa", "other"]);
        assert_eq!(serde_json::to_value(&claims().aud).unwrap(), json!("spa"));
        assert!(serde_json::from_value::<IdTokenClaims>(json!({
            "iss": ISS, "aud": 5, "exp": 1, "iat": 1
        }))
        .is_err());
    }

    #[test]
    fn missing_exp_or_iat_is_a_clean_parse_error() {
        // OIDC Core 2: exp and iat are required; missing ones never panic or default to 0.
        for missing in ["exp", "iat", "iss", "aud"] {
            let mut v = serde_json::to_value(claims()).unwrap();
            v.as_object_mut().unwrap().remove(missing);
            assert!(
                serde_json::from_value::<IdTokenClaims>(v).is_err(),
                "{missing}"
            );
        }
        let mut v = serde_json::to_value(claims()).unwrap();
        v["exp"] = json!("tomorrow");
        assert!(serde_json::from_value::<IdTokenClaims>(v).is_err());
    }

    #[test]
    fn another_issuer_is_rejected() {
        // OIDC Core 3.1.3.7 step 2: iss must exactly match.
        for iss in [
            "https://id.example",
            "https://evil.example/",
            "HTTPS://id.example/",
        ] {
            let mut c = claims();
            c.iss = iss.into();
            assert_eq!(verify(&c), Err(ValidationError::Issuer), "{iss}");
        }
    }

    #[test]
    fn an_audience_without_our_client_id_is_rejected() {
        // OIDC Core 3.1.3.7 step 3: aud must contain client_id.
        let mut c = claims();
        c.aud = Audience::new(vec!["other-app".into()]);
        assert_eq!(verify(&c), Err(ValidationError::Audience));
        c.aud = Audience::new(vec![]);
        assert_eq!(verify(&c), Err(ValidationError::Audience));
    }

    #[test]
    fn an_untrusted_extra_audience_is_rejected_and_a_trusted_one_accepted() {
        // OIDC Core 3.1.3.7 step 3: reject if aud contains audiences not trusted.
        let mut c = claims();
        c.aud = Audience::new(vec![CLIENT.into(), "https://api.example".into()]);
        c.azp = Some(CLIENT.into());
        assert_eq!(verify(&c), Err(ValidationError::UntrustedAudience));
        let nonce = Nonce::new("n-0S6_WzA2Mj".into());
        let v = IdTokenVerifier {
            trusted_audiences: &["https://api.example"],
            ..IdTokenVerifier::new(ISS, CLIENT, &nonce)
        };
        assert_eq!(v.verify(&c, NOW), Ok(()));
    }

    #[test]
    fn several_audiences_without_azp_are_rejected() {
        // OIDC Core 3.1.3.7 step 4: azp required with multiple audiences.
        let nonce = Nonce::new("n-0S6_WzA2Mj".into());
        let v = IdTokenVerifier {
            trusted_audiences: &["api"],
            ..IdTokenVerifier::new(ISS, CLIENT, &nonce)
        };
        let mut c = claims();
        c.aud = Audience::new(vec![CLIENT.into(), "api".into()]);
        assert_eq!(
            v.verify(&c, NOW),
            Err(ValidationError::MissingAuthorizedParty)
        );
    }

    #[test]
    fn an_azp_naming_another_client_is_rejected() {
        // OIDC Core 3.1.3.7 step 5: if azp is present it must be our client_id.
        let mut c = claims();
        c.azp = Some("other-app".into());
        assert_eq!(verify(&c), Err(ValidationError::AuthorizedParty));
        c.azp = Some(CLIENT.into());
        assert_eq!(verify(&c), Ok(()));
    }

    #[test]
    fn an_expired_token_is_rejected_after_the_leeway() {
        // OIDC Core 3.1.3.7 step 9: now must be before exp (60 s leeway).
        let mut c = claims();
        c.exp = NOW - 61;
        assert_eq!(verify(&c), Err(ValidationError::Expired));
        c.exp = NOW - 60;
        assert_eq!(verify(&c), Err(ValidationError::Expired));
        c.exp = NOW - 59;
        assert_eq!(verify(&c), Ok(()));
        c.exp = i64::MIN;
        assert_eq!(verify(&c), Err(ValidationError::Expired));
    }

    #[test]
    fn a_token_issued_in_the_future_is_rejected_after_the_leeway() {
        // OIDC Core 3.1.3.7 step 10: iat not in the future (60 s leeway).
        let mut c = claims();
        c.iat = NOW + 61;
        assert_eq!(verify(&c), Err(ValidationError::IssuedInFuture));
        c.iat = NOW + 60;
        assert_eq!(verify(&c), Ok(()));
        c.iat = i64::MAX;
        assert_eq!(verify(&c), Err(ValidationError::IssuedInFuture));
    }

    #[test]
    fn a_token_issued_too_long_ago_is_rejected() {
        // OIDC Core 3.1.3.7 step 10: iat too far in the past (600 s + 60 s leeway) is a replay.
        let mut c = claims();
        c.iat = NOW - 661;
        assert_eq!(verify(&c), Err(ValidationError::IssuedTooLongAgo));
        c.iat = NOW - 660;
        assert_eq!(verify(&c), Ok(()));
        c.iat = i64::MIN;
        assert_eq!(verify(&c), Err(ValidationError::IssuedTooLongAgo));
    }

    #[test]
    fn a_missing_or_empty_subject_is_rejected() {
        // OIDC Core 2: sub is required.
        let mut c = claims();
        c.sub = None;
        assert_eq!(verify(&c), Err(ValidationError::MissingSubject));
        c.sub = Some(String::new());
        assert_eq!(verify(&c), Err(ValidationError::MissingSubject));
    }

    #[test]
    fn a_missing_nonce_is_rejected() {
        // OIDC Core 3.2.2.11: nonce must be present when one was sent.
        let mut c = claims();
        c.nonce = None;
        assert_eq!(verify(&c), Err(ValidationError::MissingNonce));
    }

    #[test]
    fn a_different_nonce_is_rejected() {
        // OIDC Core 3.2.2.11: nonce must equal the one we sent.
        for other in ["n-0S6_WzA2MJ", "n-0S6_WzA2Mj ", "", "x"] {
            let mut c = claims();
            c.nonce = Some(other.into());
            assert_eq!(verify(&c), Err(ValidationError::NonceMismatch), "{other:?}");
        }
    }

    #[test]
    fn checks_run_in_oidc_order() {
        // OIDC Core 3.1.3.7: the issuer is checked before audience and time.
        let mut c = claims();
        c.iss = "x".into();
        c.aud = Audience::new(vec!["y".into()]);
        c.exp = 0;
        assert_eq!(verify(&c), Err(ValidationError::Issuer));
        c.iss = ISS.into();
        assert_eq!(verify(&c), Err(ValidationError::Audience));
    }

    #[test]
    fn at_hash_matches_the_oidc_core_example() {
        // OIDC Core A.3: access_token jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y
        // has at_hash 77QmUPtjPfzWtF2AnpK9RQ.
        let digest = Sha256::digest(b"jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y");
        assert_eq!(at_hash_from_sha256(&digest), "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(
            check_at_hash(Some("77QmUPtjPfzWtF2AnpK9RQ"), Some(&digest)),
            Ok(())
        );
    }

    #[test]
    fn a_wrong_at_hash_is_rejected() {
        // OIDC Core 3.2.2.9: at_hash must match the access token.
        let digest = Sha256::digest(b"another-access-token");
        assert_eq!(
            check_at_hash(Some("77QmUPtjPfzWtF2AnpK9RQ"), Some(&digest)),
            Err(ValidationError::AtHashMismatch)
        );
        assert_eq!(
            check_at_hash(
                Some("77QmUPtjPfzWtF2AnpK9RQ="),
                Some(&Sha256::digest(
                    b"jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
                ))
            ),
            Err(ValidationError::AtHashMismatch)
        );
    }

    #[test]
    fn a_missing_at_hash_is_rejected_when_an_access_token_came_back() {
        // OIDC Core 3.2.2.10: at_hash required when an access token is returned.
        let digest = Sha256::digest(b"at");
        assert_eq!(
            check_at_hash(None, Some(&digest)),
            Err(ValidationError::MissingAtHash)
        );
    }

    #[test]
    fn without_an_access_token_at_hash_is_not_needed() {
        // OIDC Core 3.2.2.10: for response_type id_token there is no access token to bind.
        assert_eq!(check_at_hash(None, None), Ok(()));

        assert_eq!(check_at_hash(Some("anything"), None), Ok(()));
    }

    #[test]
    fn in_the_code_flow_at_hash_is_checked_only_when_present() {
        // OIDC Core 3.1.3.8: at_hash is optional in the code flow; a wrong one is still refused.
        let digest = Sha256::digest(b"jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y");
        assert_eq!(check_at_hash_if_present(None, Some(&digest)), Ok(()));
        assert_eq!(
            check_at_hash_if_present(Some("77QmUPtjPfzWtF2AnpK9RQ"), Some(&digest)),
            Ok(())
        );
        assert_eq!(
            check_at_hash_if_present(Some("AAAAAAAAAAAAAAAAAAAAAA"), Some(&digest)),
            Err(ValidationError::AtHashMismatch)
        );
    }

    #[test]
    fn a_refreshed_id_token_may_omit_the_nonce_but_not_carry_another() {
        // OIDC Core §12.2 (errata): after a refresh the nonce may be absent; if present it
        // must be the original one.
        let nonce = Nonce::new("n-0S6_WzA2Mj".into());
        let mut verifier = IdTokenVerifier::new(ISS, CLIENT, &nonce);
        verifier.nonce_required = false;
        let mut c = claims();
        assert_eq!(verifier.verify(&c, NOW), Ok(()));
        c.nonce = None;
        assert_eq!(verifier.verify(&c, NOW), Ok(()));
        c.nonce = Some("another".into());
        assert_eq!(
            verifier.verify(&c, NOW),
            Err(ValidationError::NonceMismatch)
        );
        verifier.nonce_required = true;
        c.nonce = None;
        assert_eq!(verifier.verify(&c, NOW), Err(ValidationError::MissingNonce));
    }

    #[test]
    fn an_id_token_verifier_prints_the_nonce_redacted() {
        // Rule: the nonce of a pending login is never logged (OIDC Core 3.2.2.11).
        let nonce = Nonce::new("NONCE-s3cr3t".into());
        let verifier = IdTokenVerifier::new(ISS, CLIENT, &nonce);
        crate::secret::assert_redacted(&format!("{verifier:?}"), &["NONCE-s3cr3t"]);
    }
}
