//! HTTPS for a provider (and the gateway, which uses this module too): a rustls server
//! configuration from PEM files offering h2 and http/1.1 via ALPN, whose certificate is reloaded
//! without a restart. [`ReloadingCert`] is the `ResolvesServerCert` every handshake asks, so a new
//! certificate reaches new handshakes while open connections continue on the old one; [`watch`]
//! reloads it on SIGHUP and when the files change (their metadata polled); [`serve`] serves a
//! `Router` over TLS. A bad new certificate keeps the old one, and the reason is logged.

mod serve;

pub use serve::{TlsListener, serve};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};
use tokio::sync::watch as notify;

/// How often [`watch`] looks at the files when no SIGHUP comes.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS certificate {}: {why}", path.display())]
    Cert { path: PathBuf, why: String },
    #[error("TLS key {}: {why}", path.display())]
    Key { path: PathBuf, why: String },
    #[error("TLS certificate {} and key {}: {why}", cert.display(), key.display())]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        why: String,
    },
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The PEM files of a certificate chain and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// What identifies one version of a file: a replaced or rewritten file differs in one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode,
    })
}

/// A certificate and key read from PEM files, swapped for a new pair on [`ReloadingCert::reload`].
#[derive(Debug)]
pub struct ReloadingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' stamps when they were last read (whether or not they were usable).
    seen: Mutex<(Option<Stamp>, Option<Stamp>)>,
    /// Counts the successful reloads; [`ReloadingCert::subscribe`] hands out receivers.
    reloads: notify::Sender<u64>,
}

impl ReloadingCert {
    /// [`ReloadingCert::load`] of `files`.
    pub fn from_files(files: &TlsFiles) -> Result<Arc<Self>, TlsError> {
        Self::load(&files.cert, &files.key)
    }

    /// Reads the pair now: unusable files are an error here, before anything listens.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let seen = (stamp(cert), stamp(key));
        let current = load_pair(cert, key, &provider)?;
        Ok(Arc::new(Self {
            cert_path: cert.to_owned(),
            key_path: key.to_owned(),
            provider,
            current: RwLock::new(Arc::new(current)),
            seen: Mutex::new(seen),
            reloads: notify::channel(0).0,
        }))
    }

    /// Reads the files again. On success new handshakes get the new certificate; on failure the
    /// old one stays and the error says why.
    pub fn reload(&self) -> Result<(), TlsError> {
        let seen = (stamp(&self.cert_path), stamp(&self.key_path));
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = seen;
        let fresh = load_pair(&self.cert_path, &self.key_path, &self.provider)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
        self.reloads.send_modify(|n| *n += 1);
        Ok(())
    }

    /// Reloads when either file changed since it was last read: `Ok(true)` when it did and the
    /// new pair is in use.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = (stamp(&self.cert_path), stamp(&self.key_path));
        if *self.seen.lock().unwrap_or_else(PoisonError::into_inner) == now {
            return Ok(false);
        }
        self.reload().map(|()| true)
    }

    /// Reloads and logs the outcome: what SIGHUP and a file change do.
    fn reload_logged(&self, why: &str, changed_only: bool) {
        let outcome = if changed_only {
            self.reload_if_changed()
        } else {
            self.reload().map(|()| true)
        };
        match outcome {
            Ok(true) => {
                tracing::info!(cert = %self.cert_path.display(), "TLS certificate reloaded ({why})")
            }
            Ok(false) => {}
            Err(error) => tracing::error!(
                %error,
                "TLS certificate not reloaded ({why}); keeping the certificate in use"
            ),
        }
    }

    /// The certificate chain new handshakes present.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A receiver of the number of successful reloads so far, to wait for the next one.
    pub fn subscribe(&self) -> notify::Receiver<u64> {
        self.reloads.subscribe()
    }

    /// A server configuration that asks `self` at every handshake, offering h2 and http/1.1.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// Reads a chain and its key and checks that they belong together.
fn load_pair(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let bad_cert = |why: String| TlsError::Cert {
        path: cert.to_owned(),
        why,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad_cert(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad_cert(e.to_string()))?;
    if chain.is_empty() {
        return Err(bad_cert("no certificate in the file".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.to_owned(),
        why: e.to_string(),
    })?;
    CertifiedKey::from_der(chain, key_der, provider).map_err(|e| TlsError::Pair {
        cert: cert.to_owned(),
        key: key.to_owned(),
        why: e.to_string(),
    })
}

/// Reloads `cert` on SIGHUP and whenever its files change (looked at every `poll`), until the
/// future is dropped. Failed reloads are logged and keep the certificate in use.
pub async fn watch(cert: Arc<ReloadingCert>, poll: Duration) {
    #[cfg(unix)]
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; TLS reload only on file change");
            None
        }
    };
    let mut ticks = tokio::time::interval(poll);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        #[cfg(unix)]
        let signalled = async {
            match hangup.as_mut() {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let signalled = std::future::pending::<Option<()>>();
        tokio::select! {
            Some(()) = signalled => cert.reload_logged("SIGHUP", false),
            _ = ticks.tick() => cert.reload_logged("files changed", true),
        }
    }
}
