//! Key rotation: new tokens carry the new kid, old tokens keep verifying until they expire, and
//! the retired key leaves the JWKS only after that.

use crate::support::{Backend, TestApp};
use crate::tokens::verify_with_jwks;
use gateway::clock::Clock;
use jsonwebtoken::decode_header;
use serde_json::{Value, json};

async fn access_token(app: &TestApp, refresh: &str) -> String {
    app.oauth_refresh(refresh).await.1["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn published_kids(app: &TestApp) -> Vec<String> {
    let jwks: Value = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            assert_eq!(
                (k["kty"].as_str(), k["alg"].as_str(), k["use"].as_str()),
                (Some("RSA"), Some("RS256"), Some("sig"))
            );
            k["kid"].as_str().unwrap().to_owned()
        })
        .collect()
}

async fn rotation_publishes_first_signs_later_and_keeps_old_tokens_verifiable_until_they_expire(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    let owner = app.user("owner", false).await;
    let (_, reg) = app.register(&owner, "hpc", "test").await;
    let refresh = reg["refreshToken"].as_str().unwrap();

    let old = access_token(&app, refresh).await;
    let old_kid = decode_header(&old).unwrap().kid.unwrap();
    assert_eq!(published_kids(&app).await, std::slice::from_ref(&old_kid));

    // A scheduled rotation: the new key is published at once but signs only after the delay.
    let (_, rotated) = app.post(&admin, "/api/admin/keys/rotate", json!({})).await;
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(
        published_kids(&app).await,
        [new_kid.clone(), old_kid.clone()]
    );
    let during = access_token(&app, refresh).await;
    assert_eq!(
        decode_header(&during).unwrap().kid.unwrap(),
        old_kid,
        "not yet active"
    );

    app.clock.advance_secs(app.app.config.key_activation_secs);
    let new = access_token(&app, refresh).await;
    assert_eq!(decode_header(&new).unwrap().kid.unwrap(), new_kid);
    assert!(
        verify_with_jwks(&app, &old).await.is_ok(),
        "old tokens still verify after a rotation"
    );
    assert!(verify_with_jwks(&app, &new).await.is_ok());

    // Past the longest token lifetime (plus skew) after its retirement, the old key is unpublished.
    app.clock.advance_secs(600 + 60 - 1);
    app.app.keys.reload().await.unwrap();
    assert_eq!(published_kids(&app).await.len(), 2);
    app.clock.advance_secs(1);
    app.app.keys.reload().await.unwrap();
    assert_eq!(published_kids(&app).await, std::slice::from_ref(&new_kid));
    assert!(verify_with_jwks(&app, &old).await.is_err());

    // An immediate rotation (a compromised key) signs with the new key at once.
    let (_, rotated) = app
        .post(&admin, "/api/admin/keys/rotate?immediate=true", json!({}))
        .await;
    let newest = access_token(&app, refresh).await;
    assert_eq!(
        decode_header(&newest).unwrap().kid.unwrap(),
        rotated["kid"].as_str().unwrap()
    );
}
crate::on_both_backends!(
    rotation_publishes_first_signs_later_and_keeps_old_tokens_verifiable_until_they_expire
);

async fn a_restarted_gateway_keeps_its_key_and_a_rotation_by_another_process_arrives_within_a_second(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let kid = app.app.keys.current_kid().unwrap();

    // A second App on the same database and data dir (a restart, or a replica) loads the same key.
    let config = app.app.config.clone();
    let other = gateway::app::App::build(config, app.url.clone(), app.clock.clone())
        .await
        .unwrap();
    assert_eq!(other.keys.current_kid().unwrap(), kid);

    // It rotates; the change feed brings the new key to the first within a second.
    let new_kid = other
        .keys
        .rotate(gateway::keys::Activation::Now)
        .await
        .unwrap()
        .kid;
    crate::support::wait_until(std::time::Duration::from_secs(1), || async {
        (app.app.keys.current_kid().as_ref() == Some(&new_kid)).then_some(())
    })
    .await;
    assert_eq!(published_kids(&app).await, [new_kid, kid]);
}
crate::on_both_backends!(
    a_restarted_gateway_keeps_its_key_and_a_rotation_by_another_process_arrives_within_a_second
);

async fn a_revocation_by_another_process_is_picked_up_at_the_next_reload(
    backend: crate::support::Backend,
) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("owner", false).await;
    let (_, reg) = app.register(&owner, "hpc", "test").await;
    let token = access_token(&app, reg["refreshToken"].as_str().unwrap()).await;
    let kid = app.app.keys.current_kid().unwrap();

    // Another process on the same database (a replica, or `gateway keys revoke`).
    let config = app.app.config.clone();
    let other = gateway::app::App::build(config, app.url.clone(), app.clock.clone())
        .await
        .unwrap();
    let revoked = other.keys.revoke(&kid).await.unwrap();
    let replacement = revoked.replaced_by.unwrap().kid;
    assert_eq!(
        app.app.store.sealed_signing_key(&kid).await.unwrap(),
        gateway::store::SealedKey::Unknown,
        "the revoked private key is erased from the database"
    );

    app.app.keys.reload().await.unwrap();
    assert_eq!(
        published_kids(&app).await,
        std::slice::from_ref(&replacement)
    );
    assert_eq!(app.app.keys.current_kid().unwrap(), replacement);
    assert!(app.app.tokens.verify_access_token(&token).await.is_err());
    app.stop().await;
}
crate::on_both_backends!(
    revocation_elsewhere,
    a_revocation_by_another_process_is_picked_up_at_the_next_reload
);

/// A configuration for another replica of `app`: the same database and key-encryption key, its own
/// (empty) data dir, so nothing but the database is shared.
fn replica_config(app: &TestApp) -> (gateway::config::Config, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("gw-replica-{}", gateway::secrets::random_id()));
    let mut config = app.app.config.clone();
    config.data_dir = dir.clone();
    (config, dir)
}

async fn replica(
    app: &TestApp,
    adjust: impl FnOnce(&mut gateway::config::Config),
) -> anyhow::Result<gateway::app::AppState> {
    let (mut config, _) = replica_config(app);
    adjust(&mut config);
    gateway::app::App::build(config, app.url.clone(), app.clock.clone()).await
}

#[tokio::test]
async fn replicas_sharing_only_postgres_and_the_kek_sign_and_verify_each_others_tokens() {
    let kek = gateway::keys::Kek::generate_text();
    let shared = kek.clone();
    let a = TestApp::spawn_with(Backend::Postgres, move |c| {
        c.keys.encryption_key = Some(shared)
    })
    .await;
    let owner = a.user("owner", false).await;
    let (_, reg) = a.register(&owner, "hpc", "test").await;
    let refresh = reg["refreshToken"].as_str().unwrap();

    let (config, b_dir) = replica_config(&a);
    let b = gateway::app::App::build(config, a.url.clone(), a.clock.clone())
        .await
        .unwrap();
    let kid = a.app.keys.current_kid().unwrap();
    assert_eq!(
        b.keys.current_kid().unwrap(),
        kid,
        "the replica signs with the key from the database"
    );
    assert!(
        !b_dir.join("keys").exists(),
        "with a configured KEK a replica keeps nothing on disk"
    );

    let from_a = access_token(&a, refresh).await;
    let from_b = b.tokens.refresh(refresh).await.unwrap().token;
    assert_eq!(decode_header(&from_b).unwrap().kid.unwrap(), kid);
    assert!(b.tokens.verify_access_token(&from_a).await.is_ok());
    assert!(a.app.tokens.verify_access_token(&from_b).await.is_ok());
    assert!(verify_with_jwks(&a, &from_b).await.is_ok());

    // A key rotated on B signs on A after A's reload: A opens B's new private key from the database.
    let rotated = b.keys.rotate(gateway::keys::Activation::Now).await.unwrap();
    a.app.keys.reload().await.unwrap();
    let after = access_token(&a, refresh).await;
    assert_eq!(decode_header(&after).unwrap().kid.unwrap(), rotated.kid);
    assert!(b.tokens.verify_access_token(&after).await.is_ok());
    let from_b = b.tokens.refresh(refresh).await.unwrap().token;
    assert!(a.app.tokens.verify_access_token(&from_b).await.is_ok());
    let _ = std::fs::remove_dir_all(b_dir);
}

async fn a_replica_with_the_wrong_kek_refuses_to_start_and_says_which_key_and_where_the_kek_is_from(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let kid = app.app.keys.current_kid().unwrap();

    // No KEK configured: a fresh one is generated, which cannot open the keys sealed by the first.
    let err = format!("{:#}", replica(&app, |_| {}).await.err().unwrap());
    assert!(err.contains(&kid), "{err}");
    assert!(err.contains("does not decrypt"), "{err}");
    assert!(err.contains("generated just now"), "{err}");

    let err = format!(
        "{:#}",
        replica(&app, |c| {
            c.keys.encryption_key = Some(gateway::keys::Kek::generate_text())
        })
        .await
        .err()
        .unwrap()
    );
    assert!(err.contains(&kid), "{err}");
    assert!(err.contains("GATEWAY_KEY_ENCRYPTION_KEY"), "{err}");

    let err = format!(
        "{:#}",
        replica(&app, |c| c.keys.encryption_key = Some("too short".into()))
            .await
            .err()
            .unwrap()
    );
    assert!(err.contains("32 bytes"), "{err}");

    // The first gateway's own KEK file still opens them.
    let kek = std::fs::read_to_string(app.app.config.keys_dir().join("kek")).unwrap();
    let ok = replica(&app, |c| c.keys.encryption_key = Some(kek))
        .await
        .unwrap();
    assert_eq!(ok.keys.current_kid().unwrap(), kid);
}
crate::on_both_backends!(
    wrong_kek,
    a_replica_with_the_wrong_kek_refuses_to_start_and_says_which_key_and_where_the_kek_is_from
);

/// Runs `sql` with text binds straight on the test's database, behind the gateway's back (what an
/// attacker with write access to the database, or an old version of the gateway, would leave).
async fn raw_sql(app: &TestApp, sql: &'static str, binds: &[&str]) {
    let url = &app.app.config.database_url;
    if url.starts_with("sqlite:") {
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(url)
            .await
            .unwrap();
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        q.execute(&mut conn).await.unwrap();
    } else {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
            .await
            .unwrap();
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        q.execute(&mut conn).await.unwrap();
    }
}

async fn a_private_key_moved_to_another_keys_row_does_not_open_and_the_start_names_that_key(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let first = app.app.keys.current_kid().unwrap();
    let second = app
        .app
        .keys
        .rotate(gateway::keys::Activation::After(60))
        .await
        .unwrap()
        .kid;
    // The second row now carries the first key's ciphertext (valid under the same KEK).
    raw_sql(
        &app,
        "UPDATE signing_keys SET private_key = (SELECT private_key FROM signing_keys WHERE kid = $1) \
         WHERE kid = $2",
        &[&first, &second],
    )
    .await;
    let err = gateway::app::App::build(app.app.config.clone(), app.url.clone(), app.clock.clone())
        .await
        .err()
        .map(|e| format!("{e:#}"))
        .expect("the start is refused");
    assert!(err.contains(&second), "{err}");
    assert!(err.contains("does not decrypt"), "{err}");
}
crate::on_both_backends!(
    swapped_rows,
    a_private_key_moved_to_another_keys_row_does_not_open_and_the_start_names_that_key
);

/// A key as the gateway had it before keys moved into the database: a `key-{kid}.pem` file in
/// `dir` and a row holding only its public half, signing from now.
async fn legacy_key(app: &TestApp, dir: &std::path::Path) -> String {
    use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
    use std::os::unix::fs::OpenOptionsExt;
    let (material, der) = gateway::keys::KeyMaterial::generate().unwrap();
    let pem = rsa::RsaPrivateKey::from_pkcs8_der(&der)
        .unwrap()
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join(format!("key-{}.pem", material.kid)))
        .and_then(|mut f| std::io::Write::write_all(&mut f, pem.as_bytes()))
        .unwrap();
    let record = gateway::model::SigningKeyRecord {
        kid: material.kid.clone(),
        n: material.n.clone(),
        e: material.e.clone(),
        created_at: app.clock.now_ms(),
        retired_at: None,
    };
    app.app
        .store
        .rotate_signing_key(&record, b"")
        .await
        .unwrap();
    raw_sql(
        app,
        "UPDATE signing_keys SET private_key = NULL WHERE kid = $1",
        &[&material.kid],
    )
    .await;
    material.kid
}

async fn legacy_key_files_are_imported_encrypted_at_start_and_by_the_import_command(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("owner", false).await;
    let (_, reg) = app.register(&owner, "hpc", "test").await;
    let refresh = reg["refreshToken"].as_str().unwrap();

    // The current key is a legacy file in data_dir/keys: a restart imports it and signs with it.
    let legacy = legacy_key(&app, &app.app.config.keys_dir()).await;
    assert_eq!(
        app.app.store.sealed_signing_key(&legacy).await.unwrap(),
        gateway::store::SealedKey::Missing
    );
    let restarted =
        gateway::app::App::build(app.app.config.clone(), app.url.clone(), app.clock.clone())
            .await
            .unwrap();
    assert_eq!(restarted.keys.current_kid().unwrap(), legacy);
    let gateway::store::SealedKey::Sealed(sealed) =
        app.app.store.sealed_signing_key(&legacy).await.unwrap()
    else {
        panic!("the legacy key is in the database now");
    };
    assert!(
        !sealed.windows(5).any(|w| w == b"-----"),
        "stored encrypted"
    );
    let token = restarted.tokens.refresh(refresh).await.unwrap().token;
    assert_eq!(decode_header(&token).unwrap().kid.unwrap(), legacy);
    app.app.keys.reload().await.unwrap();
    assert!(app.app.tokens.verify_access_token(&token).await.is_ok());

    // Files elsewhere (the old shared folder) are imported on request; an unknown file is left alone.
    let elsewhere = app.app.config.data_dir.join("old-shared-keys");
    let second = legacy_key(&app, &elsewhere).await;
    let stranger = {
        let (material, der) = gateway::keys::KeyMaterial::generate().unwrap();
        drop(der);
        std::fs::copy(
            elsewhere.join(format!("key-{second}.pem")),
            elsewhere.join(format!("key-{}.pem", material.kid)),
        )
        .unwrap();
        material.kid
    };
    let report = restarted.keys.import_legacy(&elsewhere).await.unwrap();
    assert_eq!(report.imported, std::slice::from_ref(&second));
    assert_eq!(report.unknown, std::slice::from_ref(&stranger));
    assert_eq!(restarted.keys.current_kid().unwrap(), second);
    let again = restarted.keys.import_legacy(&elsewhere).await.unwrap();
    assert!(again.imported.is_empty());
    assert_eq!(again.present, std::slice::from_ref(&second));
}
crate::on_both_backends!(
    legacy_import,
    legacy_key_files_are_imported_encrypted_at_start_and_by_the_import_command
);
