//! provider-kit: what a provider developer needs to join the federation — the wire types
//! (`protocol`), verification of the gateway's tokens (`auth`), calls to the gateway (`client`),
//! the router a provider serves at `/ucloud/<id>` (`router`), user mapping (`usermap`),
//! diagnostics (`doctor`), HTTPS with certificate reload (`tls`), and, with the `devprovider` feature, the dev provider (`devprovider`).

pub mod auth;
pub mod client;
#[cfg(feature = "devprovider")]
pub mod devprovider;
pub mod doctor;
pub mod metrics;
pub mod protocol;
pub mod router;
pub mod style;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;
pub mod usermap;
