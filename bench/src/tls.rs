//! A throwaway certificate authority and a server certificate for localhost and 127.0.0.1,
//! made with rcgen, for the TLS lines of the benchmark (ShinyDB and the echo).

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::error::BenchError;

/// PEM files of a CA and of a server certificate it signed.
#[derive(Clone)]
pub struct Pki {
    /// The CA certificate clients trust.
    pub ca_pem: String,
    /// The server's certificate.
    pub cert_pem: String,
    /// The server's private key.
    pub key_pem: String,
}

/// The name clients check the server certificate against.
pub const SERVER_NAME: &str = "localhost";

fn err(e: rcgen::Error) -> BenchError {
    BenchError::service("making a test certificate", e)
}

impl Pki {
    /// A new CA and a server certificate for `localhost` and `127.0.0.1`.
    pub fn new() -> Result<Pki, BenchError> {
        let ca_key = KeyPair::generate().map_err(err)?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "shinydb-bench CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().map_err(err)?;
        let mut leaf =
            CertificateParams::new(vec![SERVER_NAME.into(), "127.0.0.1".into()]).map_err(err)?;
        leaf.distinguished_name
            .push(DnType::CommonName, "shinydb-bench server");
        let cert = leaf.signed_by(&key, &issuer).map_err(err)?;
        Ok(Pki {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}
