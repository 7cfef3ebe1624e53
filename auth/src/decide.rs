//! The login's decisions as pure functions: when to renew, what a failed renewal does to the
//! session, whether renewed tokens still belong to the signed-in session, what the route guard
//! shows. No browser in here, so every rule is tested natively (`cargo test -p hashgate-auth`);
//! the browser tests cover only what needs a browser.

use std::time::Duration;

use hashgate_protocol::IdTokenClaims;

use crate::error::AuthError;
use crate::state::AuthStatus;

/// Renew this long before expiry (or half-way through shorter lifetimes).
pub const RENEW_MARGIN_SECS: i64 = 60;

/// The shortest time between receiving tokens and renewing them, whatever `expires_in` says
/// (0, negative, absurdly small): a provider that hands out instantly-expiring tokens gets one
/// renewal every five seconds, never a storm.
pub const MIN_RENEWAL_INTERVAL_SECS: i64 = 5;

/// The longest single timer the renewal schedules; a later renewal is scheduled again when it
/// fires (browsers fire timers of more than 2³¹ ms at once).
pub const MAX_TIMER_SECS: i64 = 24 * 60 * 60;

/// The first retry after a failed renewal that may succeed later (a provider hiccup), doubled on
/// every further failure up to [`MAX_RETRY_SECS`], with jitter so that tabs and users spread out.
pub const FIRST_RETRY_SECS: f64 = 2.0;

/// The longest wait between two retries of a failed renewal.
pub const MAX_RETRY_SECS: f64 = 60.0;

/// When to renew tokens received at `received_at` that expire at `expires_at` (Unix seconds):
/// [`RENEW_MARGIN_SECS`] before expiry, half-way for short lifetimes, and never sooner than
/// [`MIN_RENEWAL_INTERVAL_SECS`] after receiving them.
pub fn renew_at(received_at: i64, expires_at: i64) -> i64 {
    let lifetime = expires_at.saturating_sub(received_at).max(0);
    let at = expires_at.saturating_sub(RENEW_MARGIN_SECS.min(lifetime / 2));
    at.max(received_at.saturating_add(MIN_RENEWAL_INTERVAL_SECS))
}

/// How long the renewal timer waits, from `now`, for a renewal due at `at`: at least a second,
/// at most [`MAX_TIMER_SECS`].
pub fn timer_delay(at: i64, now: i64) -> Duration {
    let secs = at.saturating_sub(now).clamp(1, MAX_TIMER_SECS);
    Duration::from_secs(secs.unsigned_abs())
}

/// The wait before retry number `attempt` (0 for the first) of a renewal that failed for a
/// passing reason; `jitter` in `[0, 1)` (from the CSPRNG) spreads it over half to all of the
/// exponential step.
pub fn retry_delay(attempt: u32, jitter: f64) -> Duration {
    let step = (FIRST_RETRY_SECS * 2f64.powi(attempt.min(16) as i32)).min(MAX_RETRY_SECS);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    Duration::from_millis((step * (0.5 + jitter / 2.0) * 1000.0) as u64)
}

/// How a renewal failed, as far as the session is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The provider could not answer now: a network error, a timeout, HTTP 5xx,
    /// `temporarily_unavailable` or `server_error` (RFC 6749 §4.1.2.1). Trying later may work.
    Passing,
    /// The provider refused the refresh token (`invalid_grant`, RFC 6749 §5.2): it is revoked,
    /// expired or was reused; every tab shares that verdict.
    RefreshRefused,
    /// A silent attempt needs the user (`login_required` and the like): signed out, no error.
    NeedsInteraction,
    /// Anything else: the answer was refused; signed out here with the error shown.
    Refused,
}

/// Sorts a renewal's error.
pub fn classify(error: &AuthError, had_refresh_token: bool) -> Failure {
    match error {
        AuthError::Unreachable { .. } | AuthError::Timeout | AuthError::ServerBusy { .. } => {
            Failure::Passing
        }
        AuthError::Provider { code, .. }
            if matches!(code.as_str(), "temporarily_unavailable" | "server_error") =>
        {
            Failure::Passing
        }
        e if had_refresh_token && e.is_invalid_grant() => Failure::RefreshRefused,
        e if e.needs_interaction() => Failure::NeedsInteraction,
        _ => Failure::Refused,
    }
}

/// What a failed renewal does to the session.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AfterFailure {
    /// Keep the session (its access token is still valid) and try again after this long.
    RetryIn(Duration),
    /// Sign out here and in every tab: the provider ended the session.
    SignOutEverywhere,
    /// Sign out here, without an error (the provider wants the user to log in).
    SignOut,
    /// Sign out here and show the error.
    SignOutWithError,
}

/// The rule for a failed renewal: a passing failure keeps the session while its access token
/// is valid (retrying with back-off); only a refused refresh token ends it everywhere; anything
/// else ends it here. `access_token_expires_at` is `None` for a session without an access token.
pub fn after_failure(
    failure: Failure,
    now: i64,
    access_token_expires_at: Option<i64>,
    attempt: u32,
    jitter: f64,
) -> AfterFailure {
    match failure {
        Failure::Passing => match access_token_expires_at {
            Some(expires_at) if now < expires_at => {
                AfterFailure::RetryIn(retry_delay(attempt, jitter))
            }
            _ => AfterFailure::SignOutWithError,
        },
        Failure::RefreshRefused => AfterFailure::SignOutEverywhere,
        Failure::NeedsInteraction => AfterFailure::SignOut,
        Failure::Refused => AfterFailure::SignOutWithError,
    }
}

/// Why renewed tokens were refused although they validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// Another `sub` (or issuer): another user is signed in at the provider.
    OtherUser,
    /// The same user, but not this session: `aud`, `azp`, `auth_time` or `nonce` differ.
    OtherSession,
}

/// OIDC Core §12.2: the ID token of a refresh must match the original's `iss` and `sub`, and
/// its `aud`, `azp` and `auth_time` (when present) too; its `nonce`, if any, must be the
/// original one. The renewed session is compared before anything of it is stored.
pub fn same_session(original: &IdTokenClaims, renewed: &IdTokenClaims) -> Result<(), Mismatch> {
    same_user(original, renewed)?;
    let auth_time_kept = match (original.auth_time, renewed.auth_time) {
        (Some(before), Some(after)) => before == after,
        (None, _) => true,
        (Some(_), None) => false,
    };
    let nonce_kept = renewed.nonce.is_none() || renewed.nonce == original.nonce;
    if original.aud == renewed.aud && original.azp == renewed.azp && auth_time_kept && nonce_kept {
        Ok(())
    } else {
        Err(Mismatch::OtherSession)
    }
}

/// A silent login (a new authorization, with a new nonce and possibly a new `auth_time`) must
/// still be the same user at the same issuer (OIDC Core §2: `iss` and `sub` name the user).
pub fn same_user(original: &IdTokenClaims, renewed: &IdTokenClaims) -> Result<(), Mismatch> {
    if original.iss == renewed.iss && original.sub.is_some() && original.sub == renewed.sub {
        Ok(())
    } else {
        Err(Mismatch::OtherUser)
    }
}

/// What the route guard shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardView {
    /// The protected page.
    Content,
    /// "Taking you to the login page…" (a login is starting, or the state is loading).
    TakingYouToLogin,
    /// "Sign-in needed" with the `Log in` button: the session ended while the page was shown,
    /// or the login failed. Never an automatic redirect, so never a loop.
    SignInNeeded,
}

/// The guard's view for `status`, given whether this page has been shown signed in.
pub fn guard_view(status: AuthStatus, was_signed_in: bool) -> GuardView {
    match status {
        AuthStatus::Authenticated => GuardView::Content,
        AuthStatus::Loading => GuardView::TakingYouToLogin,
        AuthStatus::Anonymous if !was_signed_in => GuardView::TakingYouToLogin,
        AuthStatus::Anonymous | AuthStatus::Error => GuardView::SignInNeeded,
    }
}

/// Whether the guard starts a login: only for a visitor who arrives signed out, once.
pub fn guard_starts_login(status: AuthStatus, was_signed_in: bool, redirected: bool) -> bool {
    status == AuthStatus::Anonymous && !was_signed_in && !redirected
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashgate_protocol::Audience;

    fn claims(sub: &str) -> IdTokenClaims {
        IdTokenClaims {
            iss: "https://idp.example".into(),
            sub: Some(sub.into()),
            aud: Audience::new(vec!["client".into()]),
            exp: 2_000,
            iat: 1_000,
            nonce: Some("n-1".into()),
            azp: Some("client".into()),
            auth_time: Some(990),
            at_hash: None,
            name: None,
            nickname: None,
            email: None,
            picture: None,
        }
    }

    #[test]
    fn renewal_is_a_minute_before_expiry_for_long_lifetimes() {
        assert_eq!(renew_at(1_000, 4_600), 4_540);
    }

    #[test]
    fn renewal_is_half_way_for_short_lifetimes() {
        assert_eq!(renew_at(1_000, 1_060), 1_030);
    }

    // No refresh storm: expires_in 0, negative or tiny still waits the floor.
    #[test]
    fn renewal_never_comes_sooner_than_the_floor_whatever_expires_in_says() {
        for expires_at in [1_000, 999, 0, i64::MIN, 1_001, 1_004] {
            assert_eq!(
                renew_at(1_000, expires_at),
                1_000 + MIN_RENEWAL_INTERVAL_SECS,
                "expires_at {expires_at}"
            );
        }
    }

    #[test]
    fn an_absurdly_long_lifetime_neither_overflows_nor_fires_the_timer_at_once() {
        let at = renew_at(1_000, i64::MAX);
        assert!(at > 1_000_000);
        assert_eq!(
            timer_delay(at, 1_000),
            Duration::from_secs(MAX_TIMER_SECS as u64)
        );
    }

    #[test]
    fn a_timer_for_a_past_renewal_waits_one_second() {
        assert_eq!(timer_delay(100, 5_000), Duration::from_secs(1));
    }

    #[test]
    fn retries_back_off_exponentially_with_jitter_up_to_a_minute() {
        assert_eq!(retry_delay(0, 0.0), Duration::from_millis(1_000));
        assert_eq!(retry_delay(0, 0.999_999), Duration::from_millis(1_999));
        assert_eq!(retry_delay(3, 0.0), Duration::from_millis(8_000));
        assert_eq!(retry_delay(40, 1.0), Duration::from_secs(60));
        assert_eq!(retry_delay(1, f64::NAN), Duration::from_millis(2_000));
    }

    // A provider hiccup keeps a session whose access token is still valid.
    #[test]
    fn a_passing_failure_keeps_a_valid_session_and_retries() {
        for error in [
            AuthError::Timeout,
            AuthError::Unreachable {
                what: "identity provider's token endpoint",
                url: "https://idp.example/oauth/token".into(),
            },
            AuthError::ServerBusy {
                what: "identity provider's token endpoint",
                status: 503,
            },
            AuthError::provider("temporarily_unavailable", None),
            AuthError::provider("server_error", None),
        ] {
            let failure = classify(&error, true);
            assert_eq!(failure, Failure::Passing, "{error}");
            assert_eq!(
                after_failure(failure, 100, Some(160), 0, 0.0),
                AfterFailure::RetryIn(Duration::from_secs(1))
            );
        }
    }

    #[test]
    fn a_passing_failure_after_the_access_token_expired_signs_out_with_the_error() {
        assert_eq!(
            after_failure(Failure::Passing, 160, Some(160), 3, 0.5),
            AfterFailure::SignOutWithError
        );
        assert_eq!(
            after_failure(Failure::Passing, 100, None, 0, 0.5),
            AfterFailure::SignOutWithError
        );
    }

    // RFC 6749 §5.2: only invalid_grant means the refresh token is gone for every tab.
    #[test]
    fn only_invalid_grant_on_a_refresh_signs_out_everywhere() {
        let invalid_grant = AuthError::provider("invalid_grant", None);
        assert_eq!(classify(&invalid_grant, true), Failure::RefreshRefused);
        assert_eq!(
            after_failure(Failure::RefreshRefused, 0, Some(100), 0, 0.0),
            AfterFailure::SignOutEverywhere
        );
        // Without a refresh token (an iframe renewal) it is just a refused answer.
        assert_eq!(classify(&invalid_grant, false), Failure::Refused);
        assert_eq!(
            classify(&AuthError::provider("login_required", None), false),
            Failure::NeedsInteraction
        );
        assert_eq!(
            after_failure(Failure::NeedsInteraction, 0, Some(100), 0, 0.0),
            AfterFailure::SignOut
        );
        assert_eq!(classify(&AuthError::BadSignature, true), Failure::Refused);
    }

    // OIDC Core §12.2: iss, sub, aud, azp and auth_time as before; nonce absent or the original.
    #[test]
    fn a_refreshed_id_token_must_be_the_same_session() {
        let original = claims("alice");
        let mut renewed = claims("alice");
        renewed.nonce = None;
        renewed.iat = 1_500;
        renewed.exp = 2_500;
        assert_eq!(same_session(&original, &renewed), Ok(()));
        renewed.nonce = Some("n-1".into());
        assert_eq!(same_session(&original, &renewed), Ok(()));

        let other_user = claims("bob");
        assert_eq!(
            same_session(&original, &other_user),
            Err(Mismatch::OtherUser)
        );
        let mut other_issuer = claims("alice");
        other_issuer.iss = "https://evil.example".into();
        assert_eq!(
            same_session(&original, &other_issuer),
            Err(Mismatch::OtherUser)
        );

        let changes: [fn(&mut IdTokenClaims); 5] = [
            |c| c.aud = Audience::new(vec!["client".into(), "other".into()]),
            |c| c.azp = Some("other".into()),
            |c| c.auth_time = Some(991),
            |c| c.auth_time = None,
            |c| c.nonce = Some("n-2".into()),
        ];
        for change in changes {
            let mut renewed = claims("alice");
            change(&mut renewed);
            assert_eq!(
                same_session(&original, &renewed),
                Err(Mismatch::OtherSession),
                "{renewed:?}"
            );
        }
    }

    #[test]
    fn a_silent_login_may_change_nonce_and_auth_time_but_not_the_user() {
        let original = claims("alice");
        let mut renewed = claims("alice");
        renewed.nonce = Some("n-9".into());
        renewed.auth_time = Some(1_900);
        assert_eq!(same_user(&original, &renewed), Ok(()));
        let mut anonymous = claims("alice");
        anonymous.sub = None;
        assert_eq!(same_user(&anonymous, &anonymous), Err(Mismatch::OtherUser));
    }

    #[test]
    fn the_guard_sends_an_arriving_visitor_to_log_in_once() {
        assert!(guard_starts_login(AuthStatus::Anonymous, false, false));
        assert!(!guard_starts_login(AuthStatus::Anonymous, false, true));
        assert!(!guard_starts_login(AuthStatus::Loading, false, false));
        assert!(!guard_starts_login(AuthStatus::Error, false, false));
        assert_eq!(
            guard_view(AuthStatus::Anonymous, false),
            GuardView::TakingYouToLogin
        );
        assert_eq!(
            guard_view(AuthStatus::Loading, true),
            GuardView::TakingYouToLogin
        );
        assert_eq!(
            guard_view(AuthStatus::Authenticated, false),
            GuardView::Content
        );
    }

    // A logout in another tab hides the page and offers Log in, without leaving by itself.
    #[test]
    fn a_session_that_ends_under_an_open_page_shows_sign_in_needed_without_a_redirect() {
        assert!(!guard_starts_login(AuthStatus::Anonymous, true, false));
        assert_eq!(
            guard_view(AuthStatus::Anonymous, true),
            GuardView::SignInNeeded
        );
        assert_eq!(
            guard_view(AuthStatus::Error, false),
            GuardView::SignInNeeded
        );
    }
}
