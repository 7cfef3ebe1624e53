//! The provider's integration tests, one binary: an in-process provider driven through
//! `oneshot` (see `common`) or over a real socket, checked against the specifications
//! and `idp/README.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod authorize;
mod code_flow;
mod common;
mod dpop;
mod flood;
mod login;
mod refresh;
mod rules;
mod server;
mod throttle;
mod token_endpoint;
mod tokens;
mod web_message_and_logout;
