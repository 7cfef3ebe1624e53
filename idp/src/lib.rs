//! hashgate-idp (placeholder).
