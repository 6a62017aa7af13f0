//! airlock-policy.
