//! The first check: the credentials file `provider-kit register` wrote is there, private (no access
//! for group or others, as `Credentials::load` demands) and a credentials file.

use std::path::Path;

use super::report::{Check, CheckName};
use crate::client::{Credentials, CredentialsError};

/// Reads the file the way `serve` does; the check says what is wrong and how to put it right.
pub fn check(path: &Path) -> (Check, Option<Credentials>) {
    let shown = path.display();
    match Credentials::load(path) {
        Ok(credentials) => {
            let check = Check::pass(
                CheckName::Credentials,
                format!(
                    "{shown} is private and names provider `{}` at {}",
                    credentials.provider_id, credentials.gateway_url
                ),
            );
            (check, Some(credentials))
        }
        Err(CredentialsError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            let check = Check::fail(
                CheckName::Credentials,
                format!("{shown} does not exist"),
                format!(
                    "register the provider first: `provider-kit register --gateway URL --metadata \
                     FILE --token-env GATEWAY_TOKEN --out {shown}`, or pass the file it wrote"
                ),
            );
            (check, None)
        }
        Err(CredentialsError::TooOpen { mode, .. }) => {
            let check = Check::fail(
                CheckName::Credentials,
                format!("{shown} is readable by other users (mode {mode:04o})"),
                format!(
                    "run `chmod 600 {shown}`; if others may have read it, an admin can rotate the \
                     token with `gateway providers rotate-token ID`"
                ),
            );
            (check, None)
        }
        Err(error @ CredentialsError::Invalid { .. }) => {
            let check = Check::fail(
                CheckName::Credentials,
                error.to_string(),
                "use the file `provider-kit register --out` wrote, unedited",
            );
            (check, None)
        }
        Err(error) => {
            let check = Check::fail(
                CheckName::Credentials,
                format!("cannot read it: {error}"),
                "check the path and that this user may read the file",
            );
            (check, None)
        }
    }
}
