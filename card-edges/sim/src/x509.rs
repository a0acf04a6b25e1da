//! Certificates for the simulated cards' keys, issued by the test-vector CA
//! (`test_vectors::certs::CA`, key `RSA_2048_C`) so that hosts can build a chain. Serial numbers
//! derive from the public key and the validity is fixed (2025-2045, that of the test vectors), so
//! one key always gets one certificate.

use std::str::FromStr;
use std::time::Duration;

use der::asn1::UtcTime;
use der::{Decode, Encode};
use rsa::pkcs8::DecodePrivateKey;
use sha2::{Digest, Sha256};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::ext::pkix::KeyUsage;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::{Error, Result};

/// 2025-01-01T00:00:00Z and 2045-01-01T00:00:00Z, the validity of the test vectors.
const NOT_BEFORE: u64 = 1_735_689_600;
const NOT_AFTER: u64 = 2_366_841_600;

/// A leaf certificate profile: fixed subject and issuer, extensions added by the caller.
struct Leaf {
    subject: Name,
    issuer: Name,
}

impl BuilderProfile for Leaf {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        _spk: spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: spki::SubjectPublicKeyInfoRef<'_>,
        _tbs: &x509_cert::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<x509_cert::ext::Extension>> {
        Ok(Vec::new())
    }
}

/// Issues a certificate for the public key `spki_der` with `subject` (an RFC 4514 string) and
/// `usage`, signed by the test-vector CA (RSA PKCS#1 v1.5 with SHA-256).
///
/// # Errors
/// [`Error::Crypto`] naming the step that failed.
pub(crate) fn issue(subject: &str, spki_der: &[u8], usage: KeyUsage) -> Result<Vec<u8>> {
    let ca = Certificate::from_der(test_vectors::certs::CA).map_err(crypto("test CA certificate unreadable"))?;
    let ca_key =
        rsa::RsaPrivateKey::from_pkcs8_der(test_vectors::keys::RSA_2048_C).map_err(crypto("test CA key unreadable"))?;
    let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(ca_key);

    let subject = Name::from_str(subject).map_err(crypto("subject name"))?;
    let issuer = ca.tbs_certificate().subject().clone();
    let spki = SubjectPublicKeyInfoOwned::from_der(spki_der).map_err(crypto("public key"))?;
    let digest = Sha256::digest([b"serial".as_slice(), spki_der].concat());
    let mut serial = digest.get(..8).unwrap_or_default().to_vec();
    if let Some(first) = serial.first_mut() {
        *first = (*first & 0x7F) | 0x01;
    }
    let serial = SerialNumber::new(&serial).map_err(crypto("serial number"))?;
    let time = |secs| UtcTime::from_unix_duration(Duration::from_secs(secs)).map(Time::UtcTime);
    let validity =
        Validity::new(time(NOT_BEFORE).map_err(crypto("validity"))?, time(NOT_AFTER).map_err(crypto("validity"))?);

    let mut builder = CertificateBuilder::new(Leaf { subject, issuer }, serial, validity, spki)
        .map_err(crypto("certificate builder"))?;
    builder.add_extension(&usage).map_err(crypto("key usage"))?;
    let cert = builder.build::<_, rsa::pkcs1v15::Signature>(&signer).map_err(crypto("certificate signing"))?;
    cert.to_der().map_err(crypto("certificate encoding"))
}

/// Maps any error to [`Error::Crypto`] naming `what` failed.
fn crypto<E>(what: &'static str) -> impl FnOnce(E) -> Error {
    move |_| Error::Crypto(what)
}

/// A certificate from the test CA for any public key (SPKI DER), with `subject` (RFC 4514) and
/// the digital signature and key encipherment usages: what an enrollment would write for a key
/// generated on a simulated card. Test support.
///
/// # Errors
/// [`Error::Crypto`] naming the step that failed (an unreadable key, a bad subject).
pub fn issue_certificate(subject: &str, spki_der: &[u8]) -> Result<Vec<u8>> {
    use x509_cert::ext::pkix::KeyUsages;
    issue(subject, spki_der, KeyUsage(KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment))
}
