//! Attacks: limits.
