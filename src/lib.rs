//! Hashgate SPA (placeholder).
