//! Staying signed in: renewing the tokens before they expire (a refresh token under the
//! cross-tab lock, or a `prompt=none` iframe), restoring a stored session, and signing out when
//! the provider (or another tab) says the session is over.
//!
//! The rules, each decided in [`crate::decide`] and tested there:
//! - Renewal is scheduled at [`crate::decide::renew_at`]: never sooner than five seconds after
//!   the tokens arrived, whatever `expires_in` says.
//! - A passing failure (network, timeout, HTTP 5xx, `temporarily_unavailable`) keeps the session
//!   while its access token is valid and retries with back-off and jitter; `invalid_grant` signs
//!   out every tab; anything else signs out this one.
//! - A refresh token is redeemed by one tab at a time ([`crate::browser::lock`]), never after any
//!   tab has redeemed it ([`crate::spent`]), and its answer is compared with the current session
//!   before anything is stored ([`crate::decide::same_session`]).
//! - Every sign-out revokes the refresh tokens this tab holds, in memory and in storage.

use futures::future::FutureExt;
use hashgate_protocol::{AccessToken, IdToken, Nonce, RefreshToken, TokenResponse};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::browser;
use crate::context::AuthContext;
use crate::decide::{self, AfterFailure};
use crate::dpop;
use crate::error::AuthError;
use crate::session::{Session, StoredTokens};
use crate::setup::Setup;
use crate::silent::silent_authorize;
use crate::spent;
use crate::state::{AuthState, TabMessage, CHANNEL};
use crate::storage;
use crate::token;
use crate::validate::{validate_tokens, TokenInput};

/// The Web Lock (or storage lease) held while a refresh token is redeemed.
const RENEWAL_LOCK: &str = "hashgate.auth.renewal";
/// A hidden tab checks again this often instead of renewing in the background.
const HIDDEN_TAB_RECHECK_SECS: i64 = 30;

impl AuthContext {
    /// A valid access token for the API. A token that has expired or is about to is renewed
    /// silently first (concurrent callers share one renewal); [`AuthError::LoginRequired`] when
    /// nobody is signed in.
    pub async fn access_token(&self) -> Result<AccessToken, AuthError> {
        let session = match self.session_untracked() {
            None => return Err(AuthError::LoginRequired),
            Some(s) if s.needs_renewal(browser::now_secs()) => self.renew().await?,
            Some(s) => s,
        };
        session.access_token.ok_or(AuthError::LoginRequired)
    }

    /// Renews the session now: with the refresh token where the app uses them, otherwise with a
    /// silent `prompt=none` request. A provider that cannot answer right now leaves the session
    /// as it is (while its access token is valid) and a retry scheduled.
    pub async fn renew(&self) -> Result<Session, AuthError> {
        let running = self.renewal.with_value(|r| r.clone());
        let renewal = match running {
            Some(renewal) => renewal,
            None => {
                let this = *self;
                let renewal = async move {
                    let result = this.renew_once().await;
                    this.renewal.set_value(None);
                    result
                }
                .boxed_local()
                .shared();
                self.renewal.set_value(Some(renewal.clone()));
                renewal
            }
        };
        renewal.await
    }

    async fn renew_once(&self) -> Result<Session, AuthError> {
        let setup = self.setup.ready().await?;
        let Some(current) = self.session_untracked() else {
            return Err(AuthError::LoginRequired);
        };
        let had_refresh_token = setup.config.use_refresh_tokens && current.refresh_token.is_some();
        let result = if had_refresh_token {
            self.refresh(&setup, &current).await
        } else {
            renew_silently(&setup, &current).await
        };
        // A logout (here or in another tab) while the renewal ran wins: its result is dropped,
        // and a refresh token it brought is revoked, since nothing will ever use it.
        if !self.is_authenticated_untracked() {
            if let Ok(session) = &result {
                revoke_all(&setup, session.refresh_token.iter().cloned().collect()).await;
            }
            return Err(AuthError::LoginRequired);
        }
        let error = match result {
            Ok(session) => {
                self.failures.set_value(0);
                self.accept_session(session.clone());
                return Ok(session);
            }
            Err(error) => error,
        };
        if matches!(error, AuthError::UserChanged | AuthError::OtherSession) {
            // OIDC Core §2: a renewal for someone else must not swap users under the page.
            self.sign_out_everywhere(TabMessage::UserChanged, error.clone());
            return Err(error);
        }
        let now = browser::now_secs();
        let attempt = self.failures.get_value();
        let access_token_expires_at = current.access_token.as_ref().map(|_| current.expires_at());
        let failure = decide::classify(&error, had_refresh_token);
        match decide::after_failure(failure, now, access_token_expires_at, attempt, jitter()) {
            AfterFailure::RetryIn(delay) => {
                self.failures.set_value(attempt.saturating_add(1));
                let secs = i64::try_from(delay.as_secs()).unwrap_or(i64::MAX).max(1);
                self.schedule_renewal(now.saturating_add(secs));
                Ok(current)
            }
            AfterFailure::SignOutEverywhere => {
                self.sign_out_everywhere(TabMessage::SessionEnded, AuthError::RefreshRefused);
                Err(AuthError::RefreshRefused)
            }
            AfterFailure::SignOut => {
                self.sign_out_here(AuthState::Anonymous);
                Err(error)
            }
            AfterFailure::SignOutWithError => {
                self.sign_out_here(AuthState::Error(error.clone()));
                Err(error)
            }
        }
    }

    /// Renews `session` with its refresh token, holding the app-wide renewal lock: one renewal
    /// at a time across every tab. A tab that waited finds the tokens another tab stored
    /// (`cacheLocation: local`) and takes them instead; a tab whose token another tab already
    /// redeemed (a duplicated tab's copy of `sessionStorage`) never presents it, and renews
    /// through the provider's session instead.
    pub(crate) async fn refresh(
        &self,
        setup: &Setup,
        session: &Session,
    ) -> Result<Session, AuthError> {
        let this = *self;
        browser::with_lock(RENEWAL_LOCK, || async move {
            let now = browser::now_secs();
            let mut session = session.clone();
            let own = session
                .refresh_token
                .as_ref()
                .map(|t| t.secret().to_owned());
            let own_spent = match &session.refresh_token {
                Some(token) => spent::is_spent(&spent::fingerprint(token).await?),
                None => false,
            };
            let stored = storage::load_tokens(setup.config.cache_location)
                .filter(|s| s.refresh_token.is_some() && s.refresh_token != own);
            if let Some(stored) = stored {
                match this.restore(setup, stored, now).await {
                    Ok(newer) if decide::same_session(&session.claims, &newer.claims).is_ok() => {
                        if newer.usable_as_stored(now) {
                            return Ok(newer);
                        }
                        session = newer;
                    }
                    // Another session's tokens are not ours to use.
                    Ok(_) => {}
                    // The newer tokens could not be checked now (network, a rotated key): try
                    // again later rather than fall back to a token another tab has spent.
                    Err(error) if own_spent => return Err(error),
                    Err(_) => {}
                }
            }
            let Some(refresh_token) = session.refresh_token.clone() else {
                return renew_silently(setup, &session).await;
            };
            let fingerprint = spent::fingerprint(&refresh_token).await?;
            if spent::is_spent(&fingerprint) {
                // Presenting it would trip the provider's reuse detection and end the session in
                // every tab: this tab renews through the provider's session instead.
                return renew_silently(setup, &session).await;
            }
            let renewed =
                token::refresh(setup, &session, &refresh_token, &fingerprint, now).await?;
            // A logout while the request ran wins: its tokens never reach storage.
            if this.signed_out_meanwhile() {
                revoke_all(setup, renewed.refresh_token.iter().cloned().collect()).await;
                return Err(AuthError::LoginRequired);
            }
            // Stored before the lock is released, so a tab waiting for it finds the new token.
            storage::save_tokens(setup.config.cache_location, &StoredTokens::from(&renewed));
            Ok(renewed)
        })
        .await
    }

    /// A session read back from storage, validated again as if new (the ID token's age aside).
    pub(crate) async fn restore(
        &self,
        setup: &Setup,
        stored: StoredTokens,
        now: i64,
    ) -> Result<Session, AuthError> {
        let rotations = stored.rotations;
        let renewable = setup.config.use_refresh_tokens && stored.refresh_token.is_some();
        // RFC 9449: bound tokens are usable only with the key they are bound to, and only while
        // the app binds its tokens (and bearer ones only while it does not).
        let token_type = match (setup.config.use_dpop, &stored.dpop_jkt) {
            (true, Some(jkt)) if *jkt == dpop::key().await?.thumbprint => "DPoP",
            (false, None) => "Bearer",
            _ => return Err(AuthError::DpopKeyChanged),
        };
        let input = TokenInput {
            response: TokenResponse {
                access_token: stored.access_token.map(AccessToken::new),
                token_type: Some(token_type.into()),
                id_token: Some(IdToken::new(stored.id_token)),
                scope: Some(stored.scope),
                refresh_token: stored.refresh_token.map(RefreshToken::new),
                ..TokenResponse::default()
            },
            nonce: Nonce::new(stored.nonce),
            expires_at: stored.expires_at,
            // The ID token was fresh when first accepted; now only its expiry matters.
            max_iat_age_secs: Some(i64::MAX / 4),
            // After a refresh the ID token may lack the nonce (OIDC Core §12.2).
            nonce_required: rotations == 0,
            // A session with a refresh token is renewed at once if its ID token has expired.
            allow_expired_id_token: renewable,
        };
        let mut session = validate_tokens(setup, input, now).await?;
        session.rotations = rotations;
        session.received_at = stored.received_at.unwrap_or(now);
        session.dpop_jkt = stored.dpop_jkt;
        Ok(session)
    }

    /// Makes `session` current: persists it if configured, and schedules its renewal.
    pub(crate) fn accept_session(&self, session: Session) {
        if let Some(config) = self.config() {
            storage::save_tokens(config.cache_location, &StoredTokens::from(&session));
        }
        let renew_at = session.renew_at();
        self.state.set(AuthState::Authenticated(Box::new(session)));
        self.schedule_renewal(renew_at);
    }

    /// Signs out here: revokes the refresh tokens this tab holds (in memory and in storage),
    /// forgets the session and shows `state`.
    pub(crate) fn sign_out_here(&self, state: AuthState) {
        let held = self.held_refresh_tokens();
        self.forget_session();
        self.state.set(state);
        if let (Some(setup), false) = (self.setup.loaded(), held.is_empty()) {
            spawn_local(async move { revoke_all(&setup, held).await });
        }
    }

    /// Signs out here and in every tab (`message` says why), showing `error`.
    pub(crate) fn sign_out_everywhere(&self, message: TabMessage, error: AuthError) {
        self.sign_out_here(AuthState::Error(error));
        browser::broadcast(CHANNEL, message.as_str());
    }

    /// Signs out here because another tab said so; this tab's own refresh token is revoked too
    /// (each tab may hold its own family).
    pub(crate) fn signed_out_elsewhere(&self, message: TabMessage) {
        self.sign_out_here(message.signed_out_state());
    }

    /// The refresh tokens this tab could still present: the session's and the stored one.
    pub(crate) fn held_refresh_tokens(&self) -> Vec<RefreshToken> {
        let mut held: Vec<RefreshToken> = self
            .session_untracked()
            .and_then(|s| s.refresh_token)
            .into_iter()
            .collect();
        if let Some(stored) = self
            .config()
            .and_then(|c| storage::load_tokens(c.cache_location))
            .and_then(|s| s.refresh_token)
        {
            if held.iter().all(|t| t.secret() != stored) {
                held.push(RefreshToken::new(stored));
            }
        }
        held
    }

    /// Drops the session here (timer, storage); the caller sets the new state.
    pub(crate) fn forget_session(&self) {
        if let Some(handle) = self.timer.try_update_value(|t| t.take()).flatten() {
            handle.clear();
        }
        self.failures.set_value(0);
        storage::clear_tokens();
    }

    fn schedule_renewal(&self, at: i64) {
        if let Some(handle) = self.timer.try_update_value(|t| t.take()).flatten() {
            handle.clear();
        }
        let delay = decide::timer_delay(at, browser::now_secs());
        let this = *self;
        let handle = set_timeout_with_handle(
            move || {
                this.timer.set_value(None);
                if !this.is_authenticated_untracked() {
                    return;
                }
                let now = browser::now_secs();
                // A timer cut short by its maximum length fires early: schedule the rest.
                if now < at {
                    this.schedule_renewal(at);
                    return;
                }
                // A hidden tab does not renew in the background; it looks again later (one timer).
                if browser::document_hidden() {
                    this.schedule_renewal(now + HIDDEN_TAB_RECHECK_SECS);
                    return;
                }
                spawn_local(async move {
                    let _ = this.renew().await;
                });
            },
            delay,
        );
        self.timer.set_value(handle.ok());
    }
}

/// A `prompt=none` renewal, which must come back for the same user at the same issuer.
async fn renew_silently(setup: &Setup, current: &Session) -> Result<Session, AuthError> {
    let session = silent_authorize(setup).await?;
    match decide::same_user(&current.claims, &session.claims) {
        Ok(()) => Ok(session),
        Err(_) => {
            revoke_all(setup, session.refresh_token.iter().cloned().collect()).await;
            Err(AuthError::UserChanged)
        }
    }
}

/// Revokes each token (RFC 7009), one after the other (a tab holds one or two), each within its
/// own timeout; best effort.
pub(crate) async fn revoke_all(setup: &Setup, tokens: Vec<RefreshToken>) {
    for token in &tokens {
        token::revoke(setup, token).await;
    }
}

/// A number in `[0, 1)` from the CSPRNG, to spread retries.
fn jitter() -> f64 {
    browser::random_32()
        .map(|b| f64::from(u16::from_le_bytes([b[0], b[1]])) / 65_536.0)
        .unwrap_or(0.5)
}
