//! Attacks: tokens.
