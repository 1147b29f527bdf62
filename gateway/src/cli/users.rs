//! `gateway users status|suspend|resume|disable|set-expiry|set-assurance`: the account lifecycle from the command
//! line, through the same domain calls as `/api/admin/users/…`, audited as `_operator`.

mod create;

pub use create::{UsersCommand, users};

use super::open::app;
use crate::accounts::{AccountLifecycle, AccountState};
use crate::audit::Actor;
use crate::clock::{parse_rfc3339, rfc3339};
use crate::config::Config;
use clap::{ArgGroup, Subcommand};

#[derive(Subcommand)]
pub enum LifecycleCommand {
    /// Show a user's account state.
    Status { username: String },
    /// Suspend a user (indefinitely, or until --until RFC3339): sign-in, token creation and every
    /// authenticated call are refused at once.
    Suspend {
        username: String,
        #[arg(long)]
        until: Option<String>,
    },
    /// End a user's suspension or disabling.
    Resume { username: String },
    /// Pre-create an account for EMAIL and print its username: the first sign-in whose identity
    /// provider vouches for this email (email_verified) takes it.
    Invite {
        email: String,
        #[arg(long)]
        admin: bool,
    },
    /// Activate an account a federated sign-in created, which awaits approval.
    Approve { username: String },
    /// List every user (username, role, email; a line each); with --pending, only the usernames of
    /// accounts awaiting approval.
    List {
        #[arg(long)]
        pending: bool,
    },
    /// Disable a user and revoke all their sessions and API tokens.
    Disable { username: String },
    /// Set what a local account carries for providers' access policy (SPEC §9): its assurance
    /// URIs (replacing the old list; none clears it) and, with --two-factor, its two-factor flag.
    /// A federated sign-in replaces both with what the identity provider vouches for.
    SetAssurance {
        username: String,
        uris: Vec<String>,
        #[arg(long)]
        two_factor: Option<bool>,
    },
    /// Merge account OLD into NEW: identities, connections, wallets and project memberships move
    /// to NEW; OLD is disabled and its password, sessions and API tokens are revoked. Refused,
    /// changing nothing, when both are connected to one provider.
    Merge {
        #[arg(long, value_name = "OLD")]
        from: String,
        #[arg(long, value_name = "NEW")]
        into: String,
    },
    /// Set the end of a user's membership (--at RFC3339; a past time expires them now) or remove it.
    #[command(group(ArgGroup::new("when").required(true).args(["at", "never"])))]
    SetExpiry {
        username: String,
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        never: bool,
    },
}

pub async fn lifecycle(config: Config, command: LifecycleCommand) -> anyhow::Result<()> {
    let app = app(config).await?;
    let accounts = &app.accounts;
    let me = Actor::Operator;
    let parse = |t: Option<String>| {
        t.as_deref()
            .map(parse_rfc3339)
            .transpose()
            .map_err(anyhow::Error::msg)
    };
    if let LifecycleCommand::Invite { email, admin } = &command {
        println!("{}", accounts.invite(email, *admin).await?.username);
        return Ok(());
    }
    if let LifecycleCommand::SetAssurance {
        username,
        uris,
        two_factor,
    } = &command
    {
        let user = accounts
            .set_assurance(&me, username, uris, *two_factor)
            .await?;
        println!(
            "{}: two-factor {}; assurance [{}]",
            user.username,
            user.federated.two_factor,
            user.federated.assurance.join(", ")
        );
        return Ok(());
    }
    if let LifecycleCommand::List { pending } = command {
        if !pending {
            for user in accounts.users().await? {
                let role = user.role.as_str().to_lowercase();
                println!("{}\t{role}\t{}", user.username, user.email);
            }
            return Ok(());
        }
        for user in accounts.pending().await? {
            println!("{}", user.username);
        }
        return Ok(());
    }
    if let LifecycleCommand::Merge { from, into } = &command {
        let merged = app.merge_users(&me, from, into).await?;
        println!("{from} merged into {into}: {}", merged_summary(&merged));
        let owed = app.store.pending_renames().await?;
        if !owed.is_empty() {
            println!(
                "{} provider rename(s) not delivered yet; a running gateway retries them",
                owed.len()
            );
        }
        return Ok(());
    }
    let done = match command {
        LifecycleCommand::Status { username } => accounts.lifecycle(&username).await?,
        LifecycleCommand::Suspend { username, until } => {
            accounts.suspend(&me, &username, parse(until)?).await?
        }
        LifecycleCommand::Resume { username } => accounts.resume(&me, &username).await?,
        LifecycleCommand::Approve { username } => accounts.approve(&me, &username).await?,
        LifecycleCommand::List { .. }
        | LifecycleCommand::Invite { .. }
        | LifecycleCommand::SetAssurance { .. }
        | LifecycleCommand::Merge { .. } => {
            unreachable!("answered above")
        }
        LifecycleCommand::Disable { username } => app.disable_user(&me, &username).await?,
        LifecycleCommand::SetExpiry { username, at, .. } => {
            accounts.set_expiry(&me, &username, parse(at)?).await?
        }
    };
    println!("{}", describe(&done));
    Ok(())
}

/// `2 identities, connections: dev, wallets: dev, projects: none; revoked 1 session, 2 API tokens, the password`
pub fn merged_summary(m: &crate::store::Merged) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    format!(
        "{} identities, connections: {}, wallets: {}, projects: {}; revoked {} sessions, {} API tokens{}",
        m.identities,
        list(&m.connections),
        list(&m.wallets),
        list(&m.projects),
        m.sessions_revoked,
        m.api_tokens_revoked,
        if m.password_revoked {
            ", the password"
        } else {
            ""
        }
    )
}

/// `alice: the account is suspended until …; membership ends …`
fn describe(l: &AccountLifecycle) -> String {
    let mut line = format!("{}: {}", l.user.username, l.state);
    match (l.state, l.record.expires_at) {
        (AccountState::Expired { .. }, _) | (_, None) => {}
        (_, Some(end)) => line.push_str(&format!("; membership ends {}", rfc3339(end))),
    }
    line
}
