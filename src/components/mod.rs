//! Small reusable components.

pub mod alert;
pub mod header;
