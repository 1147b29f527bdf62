//! provider-kit: what a provider developer needs to join the federation — the wire types
//! (`protocol`), verification of the gateway's tokens (`auth`), calls to the gateway (`client`),
//! and the router a provider serves at `/ucloud/<id>` (`router`).

pub mod auth;
pub mod client;
pub mod protocol;
pub mod router;
