//! The `[tls]` configuration: certificate, key and optional client CA read from PEM files into a
//! rustls (ring) server configuration; and what a failed handshake is called in the logs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use tokio_rustls::TlsAcceptor;

/// The `[tls]` section of the server's TOML config. TLS is on when `cert` and `key` are set;
/// mutual TLS when `client_ca` is set too.
///
/// ```toml
/// [tls]
/// cert = "/etc/cds/server.pem"      # PEM certificate chain, leaf first
/// key = "/etc/cds/server.key"       # PEM private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC)
/// client_ca = "/etc/cds/clients.pem" # optional: PEM CA bundle, clients must present a cert
/// client_cert = "optional"           # optional: "required" (the default with client_ca)
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain, the server's own certificate first.
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert` (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// PEM bundle of the CAs whose client certificates are accepted: mutual TLS when set.
    pub client_ca: Option<PathBuf>,
    /// Whether a client must present a certificate; only meaningful with `client_ca`, where it
    /// defaults to [`ClientCertMode::Required`]. Set without `client_ca` it is an error, so that
    /// `client_cert = "required"` alone cannot leave the server silently without client
    /// authentication.
    pub client_cert: Option<ClientCertMode>,
}

/// Whether clients must present a certificate under mutual TLS.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ClientCertMode {
    /// A client without a certificate trusted by `client_ca` is refused during the handshake.
    #[default]
    Required,
    /// A client may connect without a certificate (its requests then carry no fingerprint);
    /// a certificate it does present must still chain to `client_ca`.
    Optional,
}

/// Why the TLS configuration could not be built. Every message names the file concerned and
/// what is wrong with it, never the file's content.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// `cert` is set but `key` is not.
    #[error("tls: `cert` is set ({}) but `key` is not", cert.display())]
    CertWithoutKey {
        /// The certificate file.
        cert: PathBuf,
    },
    /// `key` is set but `cert` is not.
    #[error("tls: `key` is set ({}) but `cert` is not", key.display())]
    KeyWithoutCert {
        /// The key file.
        key: PathBuf,
    },
    /// `client_ca` is set while TLS is off (no `cert` and `key`).
    #[error("tls: `client_ca` is set ({}) but TLS is off: set `cert` and `key` too", client_ca.display())]
    ClientCaWithoutTls {
        /// The CA bundle.
        client_ca: PathBuf,
    },
    /// `client_cert` is set without `client_ca`.
    #[error("tls: `client_cert` is set but `client_ca` is not: mutual TLS needs the CA bundle")]
    ClientCertModeWithoutCa,
    /// A file could not be read.
    #[error("tls: cannot read the {what} file {}: {source}", path.display())]
    Read {
        /// Which file: "certificate", "private key" or "client CA".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not well-formed PEM.
    #[error("tls: the {what} file {} is not valid PEM: {reason}", path.display())]
    BadPem {
        /// Which file.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong, in general terms.
        reason: &'static str,
    },
    /// A certificate file holds no `CERTIFICATE` section.
    #[error("tls: the {what} file {} holds no PEM certificate", path.display())]
    NoCertificate {
        /// "certificate" or "client CA".
        what: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no private key section.
    #[error(
        "tls: the private key file {} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)",
        path.display()
    )]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The private key is not the key of the certificate.
    #[error("tls: the private key {} does not match the certificate {}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// The certificate or key was refused by rustls (unsupported key type, unparsable
    /// certificate, ...).
    #[error("tls: certificate {} with key {}: {reason}", cert.display(), key.display())]
    Certificate {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        reason: String,
    },
    /// A certificate of the client CA bundle is not usable as a trust anchor.
    #[error("tls: the client CA file {}: {reason}", path.display())]
    ClientCa {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Builds the TLS acceptor of a `[tls]` section: `Ok(None)` when TLS is off (neither `cert` nor
/// `key`), TLS 1.2 and 1.3 on rustls's ring provider otherwise, announcing `http/1.1` over ALPN.
///
/// ```no_run
/// use cds_server::listen::{tls_acceptor, TlsConfig};
/// let config = TlsConfig {
///     cert: Some("server.pem".into()),
///     key: Some("server.key".into()),
///     ..TlsConfig::default()
/// };
/// match tls_acceptor(&config) {
///     Ok(acceptor) => assert!(acceptor.is_some()),
///     Err(e) => eprintln!("{e}"), // names the file and what is wrong with it
/// }
/// ```
pub fn tls_acceptor(config: &TlsConfig) -> Result<Option<TlsAcceptor>, ListenError> {
    let (cert_path, key_path) = match (&config.cert, &config.key) {
        (None, None) => {
            if let Some(client_ca) = &config.client_ca {
                return Err(ListenError::ClientCaWithoutTls {
                    client_ca: client_ca.clone(),
                });
            }
            if config.client_cert.is_some() {
                return Err(ListenError::ClientCertModeWithoutCa);
            }
            return Ok(None);
        }
        (Some(cert), None) => return Err(ListenError::CertWithoutKey { cert: cert.clone() }),
        (None, Some(key)) => return Err(ListenError::KeyWithoutCert { key: key.clone() }),
        (Some(cert), Some(key)) => (cert, key),
    };
    if config.client_ca.is_none() && config.client_cert.is_some() {
        return Err(ListenError::ClientCertModeWithoutCa);
    }
    let chain = read_certs("certificate", cert_path)?;
    let key = read_key(key_path)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| certificate_error(cert_path, key_path, e))?;
    let builder = match &config.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca_path) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs("client CA", ca_path)? {
                roots.add(cert).map_err(|e| ListenError::ClientCa {
                    path: ca_path.clone(),
                    reason: e.to_string(),
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = match config.client_cert.unwrap_or_default() {
                ClientCertMode::Required => verifier,
                ClientCertMode::Optional => verifier.allow_unauthenticated(),
            };
            let verifier = verifier.build().map_err(|e| ListenError::ClientCa {
                path: ca_path.clone(),
                reason: e.to_string(),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut server = builder
        .with_single_cert(chain, key)
        .map_err(|e| certificate_error(cert_path, key_path, e))?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(server))))
}

fn certificate_error(cert: &Path, key: &Path, e: rustls::Error) -> ListenError {
    match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            ListenError::KeyMismatch {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
            }
        }
        other => ListenError::Certificate {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            reason: other.to_string(),
        },
    }
}

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, ListenError> {
    std::fs::read(path).map_err(|source| ListenError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// The reason of a PEM error in general terms: the library's own message may quote a line of
/// the file, which for a key file is secret.
fn pem_reason(e: &rustls_pki_types::pem::Error) -> &'static str {
    use rustls_pki_types::pem::Error;
    match e {
        Error::MissingSectionEnd { .. } => "a section has no END line",
        Error::IllegalSectionStart { .. } => "a BEGIN line is malformed",
        Error::Base64Decode(_) => "a section's base64 is malformed",
        _ => "malformed PEM",
    }
}

fn read_certs(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, ListenError> {
    let pem = read_file(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ListenError::BadPem {
            what,
            path: path.to_path_buf(),
            reason: pem_reason(&e),
        })?;
    if certs.is_empty() {
        return Err(ListenError::NoCertificate {
            what,
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, ListenError> {
    let pem = read_file("private key", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => ListenError::NoKey {
            path: path.to_path_buf(),
        },
        other => ListenError::BadPem {
            what: "private key",
            path: path.to_path_buf(),
            reason: pem_reason(&other),
        },
    })
}

/// What went wrong in a failed handshake, as a short class fit for a log line: never the
/// peer's data, only which kind of failure.
pub(crate) fn handshake_failure_class(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind;
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return match tls {
            rustls::Error::InvalidMessage(_) => "not TLS or malformed TLS",
            rustls::Error::NoCertificatesPresented => "no client certificate",
            rustls::Error::InvalidCertificate(_) => "client certificate refused",
            rustls::Error::AlertReceived(_) => "alert from the peer",
            rustls::Error::PeerIncompatible(_) => "incompatible peer",
            rustls::Error::PeerMisbehaved(_) => "peer misbehaved",
            rustls::Error::NoApplicationProtocol => "no common application protocol",
            _ => "other TLS error",
        };
    }
    match e.kind() {
        ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => {
            "closed by the peer"
        }
        ErrorKind::TimedOut => "handshake timeout",
        _ => "i/o error",
    }
}

/// Hex SHA-256 of a certificate's DER: the client certificate fingerprint of a request.
pub(crate) fn sha256_hex(der: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write;
    let digest = Sha256::digest(der);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/tls")
            .join(name)
    }

    fn config(cert: Option<&str>, key: Option<&str>) -> TlsConfig {
        TlsConfig {
            cert: cert.map(fixture),
            key: key.map(fixture),
            ..TlsConfig::default()
        }
    }

    fn err(config: &TlsConfig) -> ListenError {
        match tls_acceptor(config) {
            Ok(_) => panic!("expected an error for {config:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn tls_is_off_without_cert_and_key() {
        assert!(tls_acceptor(&TlsConfig::default()).unwrap().is_none());
    }

    #[test]
    fn pkcs8_and_sec1_keys_load() {
        let c = config(Some("server.pem"), Some("server.key"));
        assert!(tls_acceptor(&c).unwrap().is_some());
        let c = config(Some("server.pem"), Some("server-sec1.key"));
        assert!(tls_acceptor(&c).unwrap().is_some());
    }

    #[test]
    fn mutual_tls_loads_in_both_modes() {
        for mode in [
            None,
            Some(ClientCertMode::Required),
            Some(ClientCertMode::Optional),
        ] {
            let c = TlsConfig {
                client_ca: Some(fixture("ca.pem")),
                client_cert: mode,
                ..config(Some("server.pem"), Some("server.key"))
            };
            assert!(tls_acceptor(&c).unwrap().is_some());
        }
    }

    #[test]
    fn cert_without_key_and_the_reverse_are_errors() {
        let e = err(&config(Some("server.pem"), None));
        assert!(matches!(e, ListenError::CertWithoutKey { .. }), "{e}");
        assert!(e.to_string().contains("server.pem"), "{e}");
        let e = err(&config(None, Some("server.key")));
        assert!(matches!(e, ListenError::KeyWithoutCert { .. }), "{e}");
    }

    #[test]
    fn client_settings_without_their_prerequisites_are_errors() {
        let c = TlsConfig {
            client_ca: Some(fixture("ca.pem")),
            ..TlsConfig::default()
        };
        assert!(matches!(err(&c), ListenError::ClientCaWithoutTls { .. }));
        for mode in [ClientCertMode::Required, ClientCertMode::Optional] {
            let c = TlsConfig {
                client_cert: Some(mode),
                ..config(Some("server.pem"), Some("server.key"))
            };
            assert!(matches!(err(&c), ListenError::ClientCertModeWithoutCa));
            let c = TlsConfig {
                client_cert: Some(mode),
                ..TlsConfig::default()
            };
            assert!(matches!(err(&c), ListenError::ClientCertModeWithoutCa));
        }
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = err(&config(Some("nope.pem"), Some("server.key")));
        assert!(
            matches!(&e, ListenError::Read { what: "certificate", source, .. } if source.kind() == std::io::ErrorKind::NotFound),
            "{e:?}"
        );
        assert!(e.to_string().contains("nope.pem"), "{e}");
        let e = err(&config(Some("server.pem"), Some("nope.key")));
        assert!(
            matches!(
                e,
                ListenError::Read {
                    what: "private key",
                    ..
                }
            ),
            "{e:?}"
        );
        let c = TlsConfig {
            client_ca: Some(fixture("nope-ca.pem")),
            ..config(Some("server.pem"), Some("server.key"))
        };
        let e = err(&c);
        assert!(
            matches!(
                e,
                ListenError::Read {
                    what: "client CA",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn garbage_files_are_refused_without_quoting_them() {
        let dir = std::env::temp_dir().join(format!("cds-listen-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let garbage = dir.join("garbage.pem");
        std::fs::write(&garbage, "SECRET-NOT-PEM at all\n").unwrap();
        let bad_base64 = dir.join("bad-base64.pem");
        std::fs::write(
            &bad_base64,
            "-----BEGIN CERTIFICATE-----\nSECRET!!!***\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let bad_key = dir.join("bad.key");
        std::fs::write(
            &bad_key,
            "-----BEGIN PRIVATE KEY-----\nSECRET!!!***\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let not_der = dir.join("not-der.pem");
        std::fs::write(
            &not_der,
            "-----BEGIN CERTIFICATE-----\nU0VDUkVU\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let key = fixture("server.key");
        let cases: Vec<(TlsConfig, &str)> = vec![
            (
                TlsConfig {
                    cert: Some(garbage.clone()),
                    key: Some(key.clone()),
                    ..Default::default()
                },
                "NoCertificate",
            ),
            (
                TlsConfig {
                    cert: Some(fixture("server.pem")),
                    key: Some(garbage.clone()),
                    ..Default::default()
                },
                "NoKey",
            ),
            (
                TlsConfig {
                    cert: Some(fixture("server.pem")),
                    key: Some(fixture("server.pem")),
                    ..Default::default()
                },
                "NoKey",
            ),
            (
                TlsConfig {
                    cert: Some(bad_base64.clone()),
                    key: Some(key.clone()),
                    ..Default::default()
                },
                "BadPem",
            ),
            (
                TlsConfig {
                    cert: Some(fixture("server.pem")),
                    key: Some(bad_key.clone()),
                    ..Default::default()
                },
                "BadPem",
            ),
            (
                TlsConfig {
                    cert: Some(not_der.clone()),
                    key: Some(key.clone()),
                    ..Default::default()
                },
                "Certificate",
            ),
            (
                TlsConfig {
                    client_ca: Some(garbage.clone()),
                    ..config(Some("server.pem"), Some("server.key"))
                },
                "NoCertificate",
            ),
            (
                TlsConfig {
                    client_ca: Some(not_der.clone()),
                    ..config(Some("server.pem"), Some("server.key"))
                },
                "ClientCa",
            ),
        ];
        for (c, variant) in cases {
            let e = err(&c);
            let text = e.to_string();
            assert!(format!("{e:?}").starts_with(variant), "{variant}: {e:?}");
            assert!(!text.contains("SECRET"), "{text}");
            println!("{variant}: {text}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_key_of_another_certificate_is_a_mismatch() {
        let e = err(&config(Some("server.pem"), Some("client.key")));
        assert!(matches!(e, ListenError::KeyMismatch { .. }), "{e:?}");
        assert!(e.to_string().contains("client.key"), "{e}");
        assert!(e.to_string().contains("server.pem"), "{e}");
    }

    #[test]
    fn the_toml_section_reads_and_refuses_unknown_keys() {
        let c: TlsConfig = serde_json::from_str(
            r#"{"cert":"a.pem","key":"a.key","client_ca":"ca.pem","client_cert":"optional"}"#,
        )
        .unwrap();
        assert_eq!(c.client_cert, Some(ClientCertMode::Optional));
        assert!(serde_json::from_str::<TlsConfig>(r#"{"certificate":"a.pem"}"#).is_err());
        assert!(serde_json::from_str::<TlsConfig>(r#"{"client_cert":"sometimes"}"#).is_err());
        assert_eq!(
            serde_json::from_str::<TlsConfig>("{}").unwrap(),
            TlsConfig::default()
        );
    }

    #[test]
    fn handshake_failures_are_named_by_class() {
        use std::io::{Error, ErrorKind};
        let tls = |e: rustls::Error| Error::new(ErrorKind::InvalidData, e);
        assert_eq!(
            handshake_failure_class(&tls(rustls::Error::NoCertificatesPresented)),
            "no client certificate"
        );
        assert_eq!(
            handshake_failure_class(&tls(rustls::Error::InvalidMessage(
                rustls::InvalidMessage::InvalidContentType
            ))),
            "not TLS or malformed TLS"
        );
        assert_eq!(
            handshake_failure_class(&Error::from(ErrorKind::UnexpectedEof)),
            "closed by the peer"
        );
    }

    #[test]
    fn fingerprints_are_lowercase_hex_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
