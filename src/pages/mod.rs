//! One page per route (paths in [`crate::routes`]).

pub mod callback;
pub mod external_api;
pub mod home;
pub mod not_found;
pub mod profile;
