//! Pure protocol logic (placeholder).
