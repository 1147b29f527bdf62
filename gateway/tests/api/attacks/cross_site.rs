//! Attacks: cross_site.
