//! airlock-gate.
