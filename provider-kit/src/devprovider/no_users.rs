//! A dev provider started without a users file has no local account anyone could sign in as: its
//! connection flow still takes the gateway's redirect (so a bad link is refused as usual), but its
//! login answers a page that says so and how an operator fixes it, instead of a form nobody can pass.

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use crate::usermap::{
    AuthFuture, AuthenticatorUnavailable, LocalAuthenticator, UsermapFlow, notice,
};

/// The authenticator of a provider without local users: every sign-in is unavailable.
pub struct NoLocalUsers;

impl LocalAuthenticator for NoLocalUsers {
    fn authenticate<'a>(&'a self, _username: &'a str, _password: &'a str) -> AuthFuture<'a> {
        Box::pin(async { Err(AuthenticatorUnavailable(NO_USERS.into())) })
    }
}

const NO_USERS: &str = "no local users are configured at this provider";

/// `GET`/`POST login` when there is no users file.
pub fn login_routes() -> Router<UsermapFlow> {
    Router::new().route("/login", get(no_users).post(no_users))
}

async fn no_users() -> Response {
    notice(
        StatusCode::SERVICE_UNAVAILABLE,
        "No local users are configured",
        "No local users are configured at this provider, so there is no account here to sign in \
         with and nothing was connected. Its operator can add some with a users file \
         (provider-kit serve --users-file FILE, see provider-kit/README.md, \"Connecting \
         accounts\"). Go back to the gateway and try again later.",
    )
}
