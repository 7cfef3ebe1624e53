//! hashgate-api (placeholder).
