//! Attacks: outbound.
