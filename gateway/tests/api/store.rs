//! The storage suite, run against SQLite and PostgreSQL alike.

use crate::on_both_backends;
use crate::support::{Backend, TestDb};
use gateway::model::{ApiToken, NewUser, ProviderStatus, Role, SigningKeyRecord};
use gateway::store::{Store, StoreError};
use provider_kit::protocol::{ProviderEnv, ProviderMetadata};

async fn open(backend: Backend) -> (TestDb, Store) {
    let db = TestDb::new(backend).await;
    let store = Store::connect(&db.url).await.unwrap();
    assert_eq!(
        store.backend_name(),
        match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    );
    (db, store)
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        email: format!("{name}@example.org"),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        organization: None,
        role: Role::User,
        password_hash: Some("$argon2id$fake".into()),
    }
}

async fn migrations_are_idempotent(backend: Backend) {
    let (_db, store) = open(backend).await;
    assert!(
        store.migrate().await.unwrap().is_empty(),
        "a second run applies nothing"
    );
    store.ping().await.unwrap();
}
on_both_backends!(migrations, migrations_are_idempotent);

async fn users_sessions_and_tokens_round_trip(backend: Backend) {
    let (_db, store) = open(backend).await;
    let ada = store.insert_user(&new_user("ada"), 1_000).await.unwrap();
    assert_eq!(ada.username, "ada");
    assert!(matches!(
        store.insert_user(&new_user("ada"), 1_000).await,
        Err(StoreError::Conflict(_))
    ));
    let bob = store.insert_user(&new_user("bob"), 1_000).await.unwrap();
    assert_ne!(ada.id, bob.id);
    assert_eq!(store.user_by_id(ada.id).await.unwrap().unwrap(), ada);
    assert_eq!(
        store
            .password_hash("ada")
            .await
            .unwrap()
            .unwrap()
            .1
            .as_deref(),
        Some("$argon2id$fake")
    );

    store
        .insert_session("s1", ada.id, 1_000, 2_000)
        .await
        .unwrap();
    assert_eq!(
        store.session_user("s1", 1_999).await.unwrap().unwrap().id,
        ada.id
    );
    assert!(
        store.session_user("s1", 2_000).await.unwrap().is_none(),
        "expired at expires_at"
    );
    assert_eq!(store.delete_expired_sessions(2_000).await.unwrap(), 1);

    let token = ApiToken {
        id: "t1".into(),
        user_id: ada.id,
        name: "cli".into(),
        created_at: 5,
    };
    store.insert_api_token(&token, "hash-1").await.unwrap();
    assert_eq!(
        store.api_token_user("hash-1").await.unwrap().unwrap().id,
        ada.id
    );
    assert!(
        !store.delete_api_token(bob.id, "t1").await.unwrap(),
        "bob cannot delete ada's token"
    );
    assert!(store.delete_api_token(ada.id, "t1").await.unwrap());
    assert!(store.api_token_user("hash-1").await.unwrap().is_none());
}
on_both_backends!(users, users_sessions_and_tokens_round_trip);

async fn providers_keep_metadata_and_move_through_states(backend: Backend) {
    let (_db, store) = open(backend).await;
    let owner = store.insert_user(&new_user("owner"), 1).await.unwrap();
    let meta = ProviderMetadata::new(
        "hpc",
        "hpc.example.org",
        true,
        None,
        ProviderEnv::Production,
    )
    .unwrap();
    let p = store
        .insert_provider(&meta, ProviderStatus::PendingApproval, owner.id, "rh-1", 10)
        .await
        .unwrap();
    assert_eq!(
        p.metadata,
        ProviderMetadata::new(
            "hpc",
            "hpc.example.org",
            true,
            Some(443),
            ProviderEnv::Production
        )
        .unwrap()
    );
    assert!(p.has_refresh_token);
    assert!(matches!(
        store
            .insert_provider(&meta, ProviderStatus::Active, owner.id, "rh-2", 10)
            .await,
        Err(StoreError::Conflict(_))
    ));

    use ProviderStatus::*;
    assert!(
        store
            .transition_provider("hpc", &[Suspended], Active, 11)
            .await
            .unwrap()
            .is_none()
    );
    let p = store
        .transition_provider("hpc", &[PendingApproval], Active, 12)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((p.status, p.updated_at), (Active, 12));

    assert_eq!(
        store
            .provider_by_refresh_hash("rh-1")
            .await
            .unwrap()
            .unwrap()
            .metadata
            .id
            .as_str(),
        "hpc"
    );
    assert!(
        store
            .set_refresh_token_hash("hpc", Some("rh-3"), 13)
            .await
            .unwrap()
    );
    assert!(
        store
            .provider_by_refresh_hash("rh-1")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.set_refresh_token_hash("hpc", None, 14).await.unwrap());
    assert!(
        !store
            .provider("hpc")
            .await
            .unwrap()
            .unwrap()
            .has_refresh_token
    );
    assert!(
        !store
            .set_refresh_token_hash("nope", None, 14)
            .await
            .unwrap()
    );
    assert_eq!(store.list_providers().await.unwrap().len(), 1);
}
on_both_backends!(providers, providers_keep_metadata_and_move_through_states);

async fn key_rotation_retires_the_previous_key(backend: Backend) {
    let (_db, store) = open(backend).await;
    let key = |kid: &str, at| SigningKeyRecord {
        kid: kid.into(),
        n: "n".into(),
        e: "AQAB".into(),
        created_at: at,
        retired_at: None,
    };
    store
        .rotate_signing_key(&key("k1", 100), b"sealed")
        .await
        .unwrap();
    store
        .rotate_signing_key(&key("k2", 200), b"sealed")
        .await
        .unwrap();
    let published = store.published_signing_keys(150).await.unwrap();
    assert_eq!(
        published
            .iter()
            .map(|k| (k.kid.as_str(), k.retired_at))
            .collect::<Vec<_>>(),
        [("k2", None), ("k1", Some(200))]
    );
    let published = store.published_signing_keys(200).await.unwrap();
    assert_eq!(
        published.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        ["k2"]
    );
    assert!(matches!(
        store.rotate_signing_key(&key("k2", 300), b"sealed").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.published_signing_keys(0).await.unwrap()[0].retired_at,
        None,
        "a failed rotation changes nothing"
    );
}
on_both_backends!(keys, key_rotation_retires_the_previous_key);
