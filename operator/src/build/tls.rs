//! Operator-managed TLS: a CA per instance and a server certificate it signs, renewed before
//! expiry. CA rotation keeps clients working: a new CA first joins the trust bundle (`ca.crt`)
//! next to the old one; only after [`propagation`] does the server certificate move to the
//! new CA; and the old CA leaves the bundle once the new certificate has been out that long
//! too (or when the old CA expires).

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;

use super::{Names, Observed, labels};
use crate::crd::ShinyDB;

/// Annotation on the CA Secret: when its current CA joined the trust bundle.
pub const CA_PUBLISHED_AT: &str = "shinydb.io/ca-published-at";
/// Certificates start this long before they are issued, for clock skew between machines.
const BACKDATE: SignedDuration = SignedDuration::from_secs(60);
/// The longest wait for a changed Secret to reach every pod and client.
const MAX_PROPAGATION: SignedDuration = SignedDuration::from_secs(120);

/// What can go wrong with certificates.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rcgen refused to make a key or certificate.
    #[error("cannot issue a certificate: {0}")]
    Issue(#[from] rcgen::Error),
    /// A time computation overflowed (absurd durations).
    #[error("certificate validity out of range: {0}")]
    Time(String),
    /// A provided or stored certificate does not parse.
    #[error("{what}: {message}")]
    Parse {
        /// Which certificate.
        what: String,
        /// What the parser said.
        message: String,
    },
}

/// What happened to the certificates in a build (each becomes an Event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsEvent {
    /// A CA was created (first build, or the stored one was unreadable).
    CaCreated,
    /// The CA was near expiry and a new one joined the trust bundle.
    CaRotated,
    /// The previous CA left the trust bundle.
    PreviousCaRetired,
    /// A server certificate was issued, and why.
    CertificateIssued(String),
}

/// A certificate with its key, in PEM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    /// Certificate.
    pub cert: String,
    /// Private key.
    pub key: String,
}

/// The certificates after a build.
#[derive(Clone, Debug)]
pub struct TlsOutcome {
    /// The newest CA.
    pub ca: Pair,
    /// The previous CA, while it is still trusted.
    pub previous_ca: Option<Pair>,
    /// When the newest CA joined the trust bundle.
    pub ca_published_at: Timestamp,
    /// The server certificate.
    pub leaf: Pair,
    /// Every CA clients must trust, newest first (`ca.crt`).
    pub bundle: String,
    /// When the server certificate expires.
    pub leaf_not_after: Timestamp,
    /// When the newest CA expires.
    pub ca_not_after: Timestamp,
    /// When the certificates must be looked at again.
    pub next_check: Timestamp,
    /// What changed.
    pub events: Vec<TlsEvent>,
}

/// The facts of a certificate the rotation logic needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// Start of validity.
    pub not_before: Timestamp,
    /// End of validity.
    pub not_after: Timestamp,
    /// Subject DN.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// DNS subject alternative names.
    pub dns_names: Vec<String>,
}

/// Reads the first certificate of a PEM text.
pub fn cert_info(what: &str, pem: &[u8]) -> Result<CertInfo, TlsError> {
    let err = |message: String| TlsError::Parse {
        what: what.to_string(),
        message,
    };
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).map_err(|e| err(e.to_string()))?;
    let cert = pem.parse_x509().map_err(|e| err(e.to_string()))?;
    let ts = |t: x509_parser::time::ASN1Time| {
        Timestamp::from_second(t.timestamp()).map_err(|e| err(e.to_string()))
    };
    let dns_names = cert
        .subject_alternative_name()
        .map_err(|e| err(e.to_string()))?
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(d.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(CertInfo {
        not_before: ts(cert.validity().not_before)?,
        not_after: ts(cert.validity().not_after)?,
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        dns_names,
    })
}

/// Number of certificates in a PEM bundle that parse.
pub fn bundle_len(pem: &[u8]) -> usize {
    Pem::iter_from_buffer(pem)
        .filter_map(Result::ok)
        .filter(|p| p.parse_x509().is_ok())
        .count()
}

/// How long a new CA sits in the trust bundle before the server certificate moves to it (and
/// how long an old CA stays after): half the renewal window, at most two minutes.
pub fn propagation(db: &ShinyDB) -> SignedDuration {
    let renew = signed(db.spec.tls.renew_before);
    (renew / 2).min(MAX_PROPAGATION)
}

fn signed(d: kube::core::Duration) -> SignedDuration {
    let std: std::time::Duration = d.into();
    SignedDuration::try_from(std).unwrap_or(SignedDuration::MAX)
}

/// The DNS names of the server certificate: the client Service and the headless Service (short,
/// namespaced and fully qualified), every pod, and `localhost`.
pub fn server_dns_names(db: &ShinyDB, names: &Names) -> Vec<String> {
    let domain = &db.spec.tls.cluster_domain;
    let ns = &names.namespace;
    let mut out = Vec::new();
    for service in [names.client_service(), names.headless_service()] {
        out.push(service.clone());
        out.push(format!("{service}.{ns}"));
        out.push(format!("{service}.{ns}.svc"));
        out.push(format!("{service}.{ns}.svc.{domain}"));
    }
    for ordinal in 0..db.spec.replicas {
        out.push(names.pod_host(ordinal, domain));
    }
    out.push("localhost".into());
    out
}

struct StoredCa {
    pair: Pair,
    info: CertInfo,
}

fn stored_pair(secret: &Secret, cert_key: &str, key_key: &str) -> Option<(Pair, CertInfo)> {
    let data = secret.data.as_ref()?;
    let cert = String::from_utf8(data.get(cert_key)?.0.clone()).ok()?;
    let key = String::from_utf8(data.get(key_key)?.0.clone()).ok()?;
    KeyPair::from_pem(&key).ok()?;
    let info = cert_info(cert_key, cert.as_bytes()).ok()?;
    Some((Pair { cert, key }, info))
}

fn to_offset(t: Timestamp) -> Result<time::OffsetDateTime, TlsError> {
    time::OffsetDateTime::from_unix_timestamp(t.as_second())
        .map_err(|e| TlsError::Time(e.to_string()))
}

fn add(t: Timestamp, d: SignedDuration) -> Result<Timestamp, TlsError> {
    t.checked_add(d).map_err(|e| TlsError::Time(e.to_string()))
}

fn new_ca(db: &ShinyDB, names: &Names, now: Timestamp) -> Result<StoredCa, TlsError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::OrganizationName, "ShinyDB");
    params.distinguished_name.push(
        DnType::CommonName,
        format!(
            "{}/{} CA {}",
            names.namespace,
            names.instance,
            now.as_second()
        ),
    );
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = to_offset(add(now, -BACKDATE)?)?;
    params.not_after = to_offset(add(now, signed(db.spec.tls.ca_duration))?)?;
    let cert = params.self_signed(&key)?;
    let pair = Pair {
        cert: cert.pem(),
        key: key.serialize_pem(),
    };
    let info = cert_info("new CA", pair.cert.as_bytes())?;
    Ok(StoredCa { pair, info })
}

fn new_leaf(
    db: &ShinyDB,
    names: &Names,
    signer: &StoredCa,
    now: Timestamp,
) -> Result<(Pair, CertInfo), TlsError> {
    let issuer_key = KeyPair::from_pem(&signer.pair.key)?;
    let issuer = Issuer::from_ca_cert_pem(&signer.pair.cert, issuer_key)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(server_dns_names(db, names))?;
    params.distinguished_name.push(
        DnType::CommonName,
        names.client_host(&db.spec.tls.cluster_domain),
    );
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = to_offset(add(now, -BACKDATE)?)?;
    let wanted = add(now, signed(db.spec.tls.certificate_duration))?;
    params.not_after = to_offset(wanted.min(signer.info.not_after))?;
    let cert = params.signed_by(&key, &issuer)?;
    let pair = Pair {
        cert: cert.pem(),
        key: key.serialize_pem(),
    };
    let info = cert_info("new server certificate", pair.cert.as_bytes())?;
    Ok((pair, info))
}

/// Decides the certificates of an operator-managed instance at `now`, from what is stored.
pub fn operator_managed(
    db: &ShinyDB,
    names: &Names,
    observed: &Observed,
    now: Timestamp,
) -> Result<TlsOutcome, TlsError> {
    let renew = signed(db.spec.tls.renew_before);
    let propagation = propagation(db);
    let mut events = Vec::new();

    // 1. The CAs.
    let stored = observed.ca_secret.as_ref();
    let current = stored.and_then(|s| stored_pair(s, "ca.crt", "ca.key"));
    let mut previous = stored
        .and_then(|s| stored_pair(s, "previous-ca.crt", "previous-ca.key"))
        .map(|(pair, info)| StoredCa { pair, info });
    let published_at = stored.and_then(|s| {
        s.metadata
            .annotations
            .as_ref()?
            .get(CA_PUBLISHED_AT)?
            .parse::<Timestamp>()
            .ok()
    });
    let (mut ca, mut ca_published_at) = match (current, published_at) {
        (Some((pair, info)), Some(at)) => (StoredCa { pair, info }, at),
        (Some((pair, info)), None) => (StoredCa { pair, info }, now),
        (None, _) => {
            events.push(TlsEvent::CaCreated);
            previous = None;
            (new_ca(db, names, now)?, now)
        }
    };
    if now >= add(ca.info.not_after, -renew)? {
        let fresh = new_ca(db, names, now)?;
        previous = Some(std::mem::replace(&mut ca, fresh));
        ca_published_at = now;
        events.push(TlsEvent::CaRotated);
    }
    if previous.as_ref().is_some_and(|p| now >= p.info.not_after) {
        previous = None;
        events.push(TlsEvent::PreviousCaRetired);
    }

    // 2. Which CA signs: the new one only once clients have had time to trust it.
    let new_ca_settled = previous.is_none() || now >= add(ca_published_at, propagation)?;
    let signer = match &previous {
        Some(p) if !new_ca_settled => p,
        _ => &ca,
    };

    // 3. The server certificate.
    let wanted_names = server_dns_names(db, names);
    let stored_leaf = observed
        .tls_secret
        .as_ref()
        .and_then(|s| stored_pair(s, "tls.crt", "tls.key"));
    let reason = match &stored_leaf {
        None => Some("no valid server certificate stored".to_string()),
        Some((_, info)) if now >= info.not_after => Some("the server certificate expired".into()),
        Some((_, info)) if info.dns_names != wanted_names => {
            Some("the server's DNS names changed".into())
        }
        Some((_, info)) if info.issuer != signer.info.subject && std::ptr::eq(signer, &ca) => {
            Some("moving to the new CA".into())
        }
        Some((_, info))
            if info.issuer != ca.info.subject
                && previous
                    .as_ref()
                    .is_none_or(|p| info.issuer != p.info.subject) =>
        {
            Some("the server certificate was not issued by a trusted CA".into())
        }
        // Due for renewal; while a new CA settles the current certificate stays (still valid).
        Some((_, info)) if now >= add(info.not_after, -renew)? && new_ca_settled => {
            Some("the server certificate is due for renewal".into())
        }
        Some(_) => None,
    };
    let (leaf, leaf_info) = match (reason, stored_leaf) {
        (None, Some(stored)) => stored,
        (reason, _) => {
            let issued = new_leaf(db, names, signer, now)?;
            events.push(TlsEvent::CertificateIssued(
                reason.unwrap_or_else(|| "no valid server certificate stored".into()),
            ));
            issued
        }
    };

    // 4. Retire the previous CA once the server certificate has been on the new one for a while.
    let leaf_on_new = leaf_info.issuer == ca.info.subject;
    let leaf_issued_at = add(leaf_info.not_before, BACKDATE)?;
    if previous.is_some() && leaf_on_new && now >= add(leaf_issued_at, propagation)? {
        previous = None;
        events.push(TlsEvent::PreviousCaRetired);
    }

    // 5. When to look again.
    // The renewal times, and the expiry itself for a certificate held back while a new CA
    // settles.
    let mut next = vec![
        add(ca.info.not_after, -renew)?,
        add(leaf_info.not_after, -renew)?,
        leaf_info.not_after,
    ];
    if let Some(p) = &previous {
        next.push(p.info.not_after);
        next.push(if leaf_on_new {
            add(leaf_issued_at, propagation)?
        } else {
            add(ca_published_at, propagation)?
        });
    }
    let next_check = next
        .into_iter()
        .filter(|t| *t > now)
        .min()
        .unwrap_or(add(now, propagation)?);

    let mut bundle = ca.pair.cert.clone();
    if let Some(p) = &previous {
        bundle.push_str(&p.pair.cert);
    }
    Ok(TlsOutcome {
        leaf_not_after: leaf_info.not_after,
        ca_not_after: ca.info.not_after,
        ca: ca.pair,
        previous_ca: previous.map(|p| p.pair),
        ca_published_at,
        leaf,
        bundle,
        next_check,
        events,
    })
}

fn bytes(s: &str) -> ByteString {
    ByteString(s.as_bytes().to_vec())
}

fn meta(name: String, names: &Names, owner: &OwnerReference, db: &ShinyDB) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(names.namespace.clone()),
        labels: Some(labels(db)),
        owner_references: Some(vec![owner.clone()]),
        ..ObjectMeta::default()
    }
}

/// The CA Secret: the CA key stays here and is never mounted into pods.
pub(super) fn ca_secret(
    names: &Names,
    owner: &OwnerReference,
    db: &ShinyDB,
    tls: &TlsOutcome,
) -> Secret {
    let mut data = BTreeMap::from([
        ("ca.crt".to_string(), bytes(&tls.ca.cert)),
        ("ca.key".to_string(), bytes(&tls.ca.key)),
    ]);
    if let Some(p) = &tls.previous_ca {
        data.insert("previous-ca.crt".into(), bytes(&p.cert));
        data.insert("previous-ca.key".into(), bytes(&p.key));
    }
    let mut metadata = meta(names.ca_secret(), names, owner, db);
    metadata.annotations = Some(BTreeMap::from([(
        CA_PUBLISHED_AT.to_string(),
        tls.ca_published_at.to_string(),
    )]));
    Secret {
        metadata,
        type_: Some("Opaque".into()),
        data: Some(data),
        ..Secret::default()
    }
}

/// The server certificate Secret the pods mount and clients read `ca.crt` from.
pub(super) fn tls_secret(
    names: &Names,
    owner: &OwnerReference,
    db: &ShinyDB,
    tls: &TlsOutcome,
) -> Secret {
    Secret {
        metadata: meta(names.tls_secret(), names, owner, db),
        type_: Some("kubernetes.io/tls".into()),
        data: Some(BTreeMap::from([
            ("tls.crt".to_string(), bytes(&tls.leaf.cert)),
            ("tls.key".to_string(), bytes(&tls.leaf.key)),
            ("ca.crt".to_string(), bytes(&tls.bundle)),
        ])),
        ..Secret::default()
    }
}
