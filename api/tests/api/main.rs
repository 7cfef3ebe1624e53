//! hashgate-api end to end: its router driven with `oneshot`, or served over TCP, against a
//! fake OpenID provider on 127.0.0.1 that serves discovery and a JWKS over real HTTP.
//!
//! One test binary, so the shared support is compiled once and anything in it no test uses
//! is reported as dead. `cargo test -p hashgate-api --test api [keys|tokens|endpoints|dpop]`.

// Tests may unwrap: a panic there is a failing test, which is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dpop;
mod endpoints;
mod freshness;
mod keys;
mod support;
mod tokens;
