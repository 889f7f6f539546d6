//! TLS for database connections, with libpq's `sslmode` meanings.
//!
//! tokio-postgres itself understands only `disable`, `prefer` (its default, as libpq's) and
//! `require`, and treats any TLS connector as "verify everything". pgkeel follows libpq instead,
//! because that is what connection strings copied from a provider's dashboard expect:
//! - `disable`: no TLS.
//! - `prefer` (default) and `require`: encrypt, without verifying the certificate (`prefer` falls
//!   back to plain text when the server has no TLS).
//! - `verify-ca`: encrypt and check the chain against the roots, not the host name.
//! - `verify-full`: check the chain and that the certificate names the host.
//!
//! Roots: the PEM file named by `sslrootcert`, or (`sslrootcert=system` or none given) the Mozilla
//! roots bundled through webpki-roots. `sslrootcert` and the verify modes are taken out of the
//! connection string here, because tokio-postgres rejects them.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// How the server's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verify {
    /// `prefer` / `require`: encrypt only.
    Nothing,
    /// `verify-ca`: the chain, not the host name.
    Chain { root_cert: Option<String> },
    /// `verify-full`: the chain and the host name.
    Full { root_cert: Option<String> },
}

/// Split the TLS settings pgkeel handles itself out of a connection string. Returns the string
/// to give tokio-postgres and how to verify. Pure.
pub fn split_settings(url: &str) -> (String, Verify) {
    let mut mode: Option<String> = None;
    let mut root_cert: Option<String> = None;
    let rewritten = if let Some(q) = url.find('?').filter(|_| url.contains("://")) {
        let (base, query) = url.split_at(q);
        let mut kept = Vec::new();
        for kv in query[1..].split('&').filter(|s| !s.is_empty()) {
            match kv.split_once('=') {
                Some(("sslmode", v)) if v.starts_with("verify-") => {
                    mode = Some(v.to_string());
                    kept.push("sslmode=require".to_string());
                }
                Some(("sslrootcert", v)) => root_cert = Some(percent_decode(v)),
                _ => kept.push(kv.to_string()),
            }
        }
        if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else if url.contains("://") {
        url.to_string()
    } else {
        let mut kept = Vec::new();
        for word in url.split_whitespace() {
            match word.split_once('=') {
                Some(("sslmode", v)) if v.starts_with("verify-") => {
                    mode = Some(v.to_string());
                    kept.push("sslmode=require".to_string());
                }
                Some(("sslrootcert", v)) => root_cert = Some(v.trim_matches('\'').to_string()),
                _ => kept.push(word.to_string()),
            }
        }
        kept.join(" ")
    };
    let root_cert = root_cert.filter(|r| r != "system");
    let verify = match mode.as_deref() {
        Some("verify-full") => Verify::Full { root_cert },
        Some(_) => Verify::Chain { root_cert },
        None => Verify::Nothing,
    };
    (rewritten, verify)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// When the connection string names no `sslmode` and every host is on this machine (loopback
/// or a Unix socket), connect without TLS: encryption over loopback protects nothing and costs
/// a handshake per connection and CPU per round trip. An explicit `sslmode` is always honoured.
pub fn plain_on_loopback(config: &mut tokio_postgres::Config, url: &str) {
    use tokio_postgres::config::{Host, SslMode};
    if url.contains("sslmode") {
        return;
    }
    let local = !config.get_hosts().is_empty()
        && config.get_hosts().iter().all(|h| match h {
            Host::Tcp(name) => {
                name == "localhost"
                    || name
                        .trim_matches(|c| c == '[' || c == ']')
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            #[cfg(unix)]
            Host::Unix(_) => true,
        });
    if local {
        config.ssl_mode(SslMode::Disable);
    }
}

/// Build the TLS connector for `verify`.
pub fn connector(verify: &Verify) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let config = match verify {
        Verify::Nothing => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth(),
        Verify::Chain { root_cert } | Verify::Full { root_cert } => {
            let roots = Arc::new(roots(root_cert.as_deref())?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| format!("TLS setup: {e}"))?;
            if matches!(verify, Verify::Full { .. }) {
                builder.with_webpki_verifier(webpki).with_no_client_auth()
            } else {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
                    .with_no_client_auth()
            }
        }
    };
    Ok(MakeRustlsConnect::new(config))
}

fn roots(root_cert: Option<&str>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match root_cert {
        None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("sslrootcert {path}: {e}"))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("sslrootcert {path}: {e}"))?;
                store
                    .add(cert)
                    .map_err(|e| format!("sslrootcert {path}: {e}"))?;
            }
            if store.is_empty() {
                return Err(format!("sslrootcert {path}: no certificate in the file"));
            }
        }
    }
    Ok(store)
}

/// `require`: any certificate, but the handshake signatures are still checked.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the full check, except that a certificate for another host name is accepted.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_modes_are_taken_out_of_urls() {
        let (u, v) = split_settings(
            "postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&application_name=x",
        );
        assert_eq!(u, "postgres://u@h/db?sslmode=require&application_name=x");
        assert_eq!(
            v,
            Verify::Full {
                root_cert: Some("/tmp/ca.pem".into())
            }
        );
        let (u, v) = split_settings("postgres://u@h/db?sslmode=verify-ca&sslrootcert=system");
        assert_eq!(u, "postgres://u@h/db?sslmode=require");
        assert_eq!(v, Verify::Chain { root_cert: None });
        let (u, v) = split_settings("postgres://u@h/db?sslmode=require");
        assert_eq!(u, "postgres://u@h/db?sslmode=require");
        assert_eq!(v, Verify::Nothing);
        let (u, v) = split_settings("host=h sslmode=verify-full sslrootcert=/ca.pem user=u");
        assert_eq!(u, "host=h sslmode=require user=u");
        assert_eq!(
            v,
            Verify::Full {
                root_cert: Some("/ca.pem".into())
            }
        );
    }
}
