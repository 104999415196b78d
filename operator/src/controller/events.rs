//! The reasons of the events the operator publishes about a ShinyDB, in one place (a problem's
//! warning event uses its condition reason, [`crate::status::Problem::reason`]).

use crate::build::tls::TlsEvent;

/// The StatefulSet was created.
pub const CREATED: &str = "Created";
/// The configuration changed; the pods roll one at a time.
pub const CONFIG_CHANGED: &str = "ConfigChanged";
/// The instance's CA was created.
pub const CA_CREATED: &str = "CACreated";
/// A new CA joined the trust bundle.
pub const CA_ROTATED: &str = "CARotated";
/// The previous CA left the trust bundle.
pub const PREVIOUS_CA_RETIRED: &str = "PreviousCARetired";
/// A server certificate was issued.
pub const CERTIFICATE_ISSUED: &str = "CertificateIssued";

/// The reason and note of a certificate event.
pub fn of_tls(event: &TlsEvent) -> (&'static str, String) {
    match event {
        TlsEvent::CaCreated => (CA_CREATED, "created the instance's CA".into()),
        TlsEvent::CaRotated => (
            CA_ROTATED,
            "the CA is due for renewal: a new CA joined the trust bundle next to the old one"
                .into(),
        ),
        TlsEvent::PreviousCaRetired => (
            PREVIOUS_CA_RETIRED,
            "the previous CA left the trust bundle".into(),
        ),
        TlsEvent::CertificateIssued(why) => (
            CERTIFICATE_ISSUED,
            format!("issued a server certificate: {why}"),
        ),
    }
}
