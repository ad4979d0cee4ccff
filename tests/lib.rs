//! Helpers live in `e2e/`; this crate has only tests.
