//! Web Storage (`sessionStorage`, `localStorage`); what is kept there is decided in
//! [`crate::storage`].

use crate::error::AuthError;

/// Which Web Storage area to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    /// `sessionStorage`: this tab only, survives reloads and the login redirect.
    Session,
    /// `localStorage`: every tab, survives restarts.
    Local,
}

fn storage(area: Area) -> Option<web_sys::Storage> {
    let window = web_sys::window()?;
    match area {
        Area::Session => window.session_storage().ok().flatten(),
        Area::Local => window.local_storage().ok().flatten(),
    }
}

/// Reads `key` from Web Storage; `None` when absent or storage is unavailable.
pub fn storage_get(area: Area, key: &str) -> Option<String> {
    storage(area)?.get_item(key).ok().flatten()
}

/// Writes `key` to Web Storage.
pub fn storage_set(area: Area, key: &str, value: &str) -> Result<(), AuthError> {
    storage(area)
        .ok_or(AuthError::Browser("web storage is unavailable"))?
        .set_item(key, value)
        .map_err(|_| AuthError::Browser("web storage is full or disabled"))
}

/// Removes `key` from Web Storage (a missing key or storage is not an error).
pub fn storage_remove(area: Area, key: &str) {
    if let Some(s) = storage(area) {
        let _ = s.remove_item(key);
    }
}
