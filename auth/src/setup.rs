//! What signing in needs, loaded once per page: the app's `auth_config.json`, the provider's
//! discovery document and its signing keys. They travel together as one [`Setup`] handle through
//! every login, renewal and validation.

use hashgate_protocol::{AuthConfig, ProviderMetadata, RawAuthConfig};
use leptos::prelude::{StoredValue, UpdateValue, WithValue};

use crate::browser;
use crate::error::AuthError;
use crate::validate::KeyCache;

/// Where the app's sign-in settings are fetched from (same origin, so deployments change it
/// without a rebuild).
pub const CONFIG_PATH: &str = "/auth_config.json";

/// The app's settings, the provider's metadata and the provider's keys: what one validation
/// needs. Cheap to clone (the keys are a shared handle).
#[derive(Clone)]
pub struct Setup {
    /// The validated `auth_config.json`.
    pub config: AuthConfig,
    /// The provider's discovery document, checked against `config.issuer`.
    pub metadata: ProviderMetadata,
    /// The provider's signing keys, shared by every validation of the page.
    pub keys: KeyCache,
}

/// The page's setup, loaded on first use and kept (a `Copy` handle).
#[derive(Clone, Copy)]
pub struct SetupCache {
    config: StoredValue<Option<AuthConfig>>,
    metadata: StoredValue<Option<ProviderMetadata>>,
    keys: KeyCache,
}

impl SetupCache {
    /// An empty cache, owned by the current reactive owner (the `<AuthProvider>`).
    pub fn new() -> Self {
        SetupCache {
            config: StoredValue::new(None),
            metadata: StoredValue::new(None),
            keys: KeyCache::new(),
        }
    }

    /// The loaded `auth_config.json`, if it is loaded.
    pub fn config(self) -> Option<AuthConfig> {
        self.config.with_value(Clone::clone)
    }

    /// Everything loaded so far, without loading anything (for a logout, which must not wait).
    pub fn loaded(self) -> Option<Setup> {
        Some(Setup {
            config: self.config()?,
            metadata: self.metadata.with_value(Clone::clone)?,
            keys: self.keys,
        })
    }

    /// Config and discovery, loading whichever is missing.
    pub async fn ready(self) -> Result<Setup, AuthError> {
        let config = match self.config() {
            Some(config) => config,
            None => {
                let config = load_config().await?;
                browser::mark(browser::CONFIG_MARK);
                self.config.update_value(|c| *c = Some(config.clone()));
                config
            }
        };
        let metadata = match self.metadata.with_value(Clone::clone) {
            Some(metadata) => metadata,
            None => {
                let metadata = load_metadata(&config).await?;
                browser::mark(browser::DISCOVERY_MARK);
                self.metadata.update_value(|m| *m = Some(metadata.clone()));
                // The keys need the discovery document's `jwks_uri`; fetched now, they arrive
                // while the login (an iframe, a token request) is under way instead of after it.
                self.keys.prefetch(metadata.jwks_uri.clone());
                metadata
            }
        };
        Ok(Setup {
            config,
            metadata,
            keys: self.keys,
        })
    }
}

async fn load_config() -> Result<AuthConfig, AuthError> {
    const WHAT: &str = "configuration file /auth_config.json";
    let raw: RawAuthConfig = browser::fetch_document(CONFIG_PATH, WHAT, false)
        .await
        .and_then(|document| browser::read_document(&document, WHAT))
        .map_err(|e| AuthError::ConfigFile(Box::new(e)))?;
    Ok(raw.validate()?)
}

async fn load_metadata(config: &AuthConfig) -> Result<ProviderMetadata, AuthError> {
    const WHAT: &str = "identity provider's discovery document";
    let document = browser::fetch_document(&config.discovery_url(), WHAT, false).await?;
    let metadata: ProviderMetadata = browser::read_document(&document, WHAT)?;
    // OIDC Discovery §4.3: the issuer in the document must be exactly the one we trust.
    metadata.check(&config.issuer)?;
    if config.response_type.is_code() {
        metadata.check_code_flow()?;
    }
    Ok(metadata)
}
