//! Tests of the usermap module: username policies as tables, account creation under concurrency on
//! one SQLite store, the passwd export, and the explicit flow over real HTTP with tokens signed by
//! the auth test kit and a stub gateway that records reports.

mod accounts;
mod concurrency;
mod flow;
mod flow_attacks;
mod ldap;
mod migrations;
mod pending;
mod policies;
mod policy_change;
mod quarantine;
mod rename;
mod slapd;
mod support;
