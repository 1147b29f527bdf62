//! A test kit for provider developers (feature `testing`): `FakeGateway`, a gateway on
//! 127.0.0.1:0 that speaks the provider-facing half of the contract — registration, the refresh
//! form, the JWKS, charges (idempotent, `402` with the balance), usermap reports and manifest
//! reloads — and records what it was asked; `signing` issues the service and usermap tokens a
//! real gateway would send (`FakeGateway::service_token`, `signing::usermap_token`), signed by its
//! published key. provider-kit's own tests use this same kit.
//!
//! ```toml
//! [dev-dependencies]
//! provider-kit = { version = "0.1", features = ["testing"] }
//! ```

pub mod gateway;
pub mod signing;

pub use gateway::{ChargeMode, FakeGateway, REFRESH_TOKEN, ReloadAnswer, USER_API_TOKEN};
