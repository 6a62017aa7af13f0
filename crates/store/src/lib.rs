//! airlock-store.
