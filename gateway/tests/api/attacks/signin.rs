//! Attacks: signin.
