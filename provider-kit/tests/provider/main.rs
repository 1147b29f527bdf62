//! provider-kit through its public API only, against a fake gateway: the gateway client, the
//! provider router, the tutorial's example, and the `provider-kit` binary as a process.

mod accounts_cli;
mod client;
mod dev_connect;
mod dev_mapping;
mod dev_provider;
mod doctor;
mod doctor_certificate;
mod first_provider;
mod health;
mod router;
mod support;
mod tls;
