//! [`AppState`]: what every route shares, built from checked [`Settings`].

use std::sync::Arc;

use axum::extract::FromRef;
use axum::http::HeaderValue;
use hashgate_protocol::discovery::is_trusted_url;

use crate::auth::{DpopPolicy, JwksPolicy, TokenVerifier};
use crate::error::StartError;
use crate::messages::MessageStore;
use crate::settings::Settings;

/// Shared state of all routes; cheap to clone.
#[derive(Clone, Debug, FromRef)]
pub struct AppState {
    /// Validates access tokens (what [`crate::Claims`] uses).
    pub verifier: TokenVerifier,
    /// The message store.
    pub messages: MessageStore,
    /// CORS origins, parsed.
    pub allowed_origins: Arc<[HeaderValue]>,
    /// The settings it was built from.
    pub settings: Arc<Settings>,
}

impl AppState {
    /// Checks the settings and opens the store. Contacts no provider: keys are fetched on
    /// first use, so this succeeds while the provider is down.
    pub fn new(settings: Settings) -> Result<Self, StartError> {
        // If feature unification ever enables a second jsonwebtoken backend, its automatic
        // choice would panic on first use; naming ours up front avoids that. An `Err` only
        // means a provider was already installed, which is fine.
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
        );
        let issuer = url::Url::parse(&settings.issuer)
            .map_err(|_| StartError::Issuer(settings.issuer.clone()))?;
        // OIDC Discovery 3: an issuer has no query or fragment. Its keys are trusted only over
        // https (http on loopback), the rule the discovery check applies to `jwks_uri`: an issuer
        // that could never pass it is refused now rather than answering 503 for ever.
        if !issuer.has_host()
            || issuer.query().is_some()
            || issuer.fragment().is_some()
            || !is_trusted_url(&settings.issuer)
        {
            return Err(StartError::Issuer(settings.issuer.clone()));
        }
        if settings.audience.trim().is_empty() {
            return Err(StartError::Audience);
        }
        let allowed_origins = settings
            .allowed_origins
            .iter()
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
            .map(parse_origin)
            .collect::<Result<Arc<[_]>, _>>()?;

        let mut http = reqwest::Client::builder()
            .timeout(settings.http_timeout)
            .connect_timeout(settings.http_timeout)
            // The issuer check is on the discovery URL we chose; do not follow elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hashgate-api/", env!("CARGO_PKG_VERSION")));
        if issuer
            .host_str()
            .is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]")
        {
            // A loopback issuer must never be reached through a proxy from the environment.
            http = http.no_proxy();
        }
        let http = http.build().map_err(StartError::HttpClient)?;

        let jwks = JwksPolicy {
            max_age: settings.jwks_max_age,
            max_age_floor: settings.jwks_max_age_floor,
            min_refresh_interval: settings.jwks_min_refresh_interval,
        };
        let public_url = settings
            .public_url
            .as_deref()
            .map(parse_public_url)
            .transpose()?;
        let dpop = DpopPolicy {
            require: settings.require_dpop,
            nonce: settings.dpop_nonce,
            public_url,
            proof_window: settings.dpop_proof_window,
        };
        let verifier = TokenVerifier::new(
            &settings.issuer,
            &settings.audience,
            http,
            jwks,
            settings.leeway,
        )
        .with_dpop(dpop);
        let messages = MessageStore::open(&settings.data_dir)?;
        Ok(Self {
            verifier,
            messages,
            allowed_origins,
            settings: Arc::new(settings),
        })
    }
}

/// The public URL is an absolute http(s) URL with a host and neither query nor fragment:
/// DPoP proofs name it plus the request path (RFC 9449 §4.3 step 9).
fn parse_public_url(public_url: &str) -> Result<url::Url, StartError> {
    let invalid = || StartError::PublicUrl(public_url.to_owned());
    let url = url::Url::parse(public_url.trim()).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https")
        || !url.has_host()
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(invalid());
    }
    Ok(url)
}

/// An origin is `scheme://host[:port]`; a single trailing `/` is forgiven.
fn parse_origin(origin: &str) -> Result<HeaderValue, StartError> {
    let invalid = || StartError::Origin(origin.to_owned());
    let trimmed = origin.strip_suffix('/').unwrap_or(origin);
    let url = url::Url::parse(trimmed).map_err(|_| invalid())?;
    let serialized = url.origin().ascii_serialization();
    if !matches!(url.scheme(), "http" | "https") || serialized != trimmed.to_ascii_lowercase() {
        return Err(invalid());
    }
    HeaderValue::from_str(&serialized).map_err(|_| invalid())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::settings::{DEFAULT_AUDIENCE, DEFAULT_ISSUER};

    #[test]
    fn origins_must_be_bare_scheme_host_port() {
        // The Fetch standard's serialized origin: scheme://host[:port], nothing else.
        assert_eq!(
            parse_origin("http://localhost:8080/").unwrap(),
            "http://localhost:8080"
        );
        assert_eq!(
            parse_origin("https://app.example").unwrap(),
            "https://app.example"
        );
        for bad in [
            "*",
            "localhost:8080",
            "http://a/b",
            "ftp://a",
            "http://a:8080?x",
            "null",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_with_a_bad_issuer_or_origin_do_not_start() {
        // Bad configuration is refused at start with a named error, never at first request.
        let dir = std::env::temp_dir().join("hashgate-api-unit-bad-settings");
        let bad_issuer = Settings::new("not a url", DEFAULT_AUDIENCE, &dir);
        assert!(matches!(
            AppState::new(bad_issuer),
            Err(StartError::Issuer(_))
        ));
        let mut bad_origin = Settings::new(DEFAULT_ISSUER, DEFAULT_AUDIENCE, &dir);
        bad_origin.allowed_origins = vec!["*".into()];
        assert!(matches!(
            AppState::new(bad_origin),
            Err(StartError::Origin(_))
        ));
        let no_audience = Settings::new(DEFAULT_ISSUER, " ", &dir);
        assert!(matches!(
            AppState::new(no_audience),
            Err(StartError::Audience)
        ));
    }

    #[test]
    fn an_issuer_whose_keys_would_travel_over_plain_http_to_another_host_does_not_start() {
        // OIDC Discovery 7.1: discovery and keys over TLS; plain http only on loopback.
        let dir = std::env::temp_dir().join(format!(
            "hashgate-api-unit-plain-http-issuer-{}",
            std::process::id()
        ));
        for issuer in [
            "http://id.example/",
            "http://idp:3000/",
            "https://id.example/?tenant=1",
            "https://id.example/#x",
            "ftp://id.example/",
        ] {
            let settings = Settings::new(issuer, DEFAULT_AUDIENCE, &dir);
            assert!(
                matches!(AppState::new(settings), Err(StartError::Issuer(_))),
                "{issuer}"
            );
        }
        for issuer in ["http://127.0.0.1:3000", "http://[::1]:3000/"] {
            let settings = Settings::new(issuer, DEFAULT_AUDIENCE, &dir);
            assert!(AppState::new(settings).is_ok(), "{issuer}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
