//! Attacks: broker_headers.
