//! Attacks: raw_path.
