//! The thin browser shell, one file a concern: [`http`] (the one `fetch()`), [`lock`] (the
//! cross-tab lock), [`web_storage`], [`key_store`] (the DPoP key pair in IndexedDB), [`crypto`]
//! (WebCrypto, CSPRNG) and [`page`] (address, history, clock, timers, tabs). No protocol
//! decisions here: those live in [`hashgate_protocol`] and [`crate::decide`].

pub mod crypto;
pub mod http;
pub mod key_store;
pub mod lock;
pub mod page;
pub mod web_storage;

pub use crypto::{new_pkce, random_32, sha256, verify_rs256};
pub use http::{fetch, fetch_document, post_form, read_document, HttpRequest, HttpResponse};
pub use lock::with_lock;
pub use page::*;
pub use web_storage::{storage_get, storage_remove, storage_set, Area};
