//! Attacks: usermap.
