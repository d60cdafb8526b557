"""Certificate authority and serving certificates (pure: bytes in, bytes out).

The shell passes `now` in: the core reads no clock, so a test can say what "now" is.
"""

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """Strict verifiers (Python 3.13's default X.509 flags, Go) refuse a CA that may not sign
    certificates. A leaf's EC key only signs (ECDHE handshakes): keyEncipherment is RSA's."""
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True, slots=True)
class Pair:
    cert: bytes
    key: bytes


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def new_ca(days: int, *, now: datetime.datetime, common_name: str = "pullpass CA") -> Pair:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Pair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue(
    ca: Pair,
    hosts: Sequence[str],
    days: int,
    *,
    now: datetime.datetime,
    common_name: str | None = None,
    organizations: Sequence[str] = (),
    client: bool = False,
) -> Pair:
    """A serving certificate for `hosts` (IPs become IP SANs, the rest DNS SANs), or with
    `client` a client certificate whose organizations are Kubernetes groups."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert)
    ca_key = serialization.load_pem_private_key(ca.key, None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key must be an EC key")
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    key = ec.generate_private_key(ec.SECP256R1())
    not_after = min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc)
    subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    subject.append(x509.NameAttribute(NameOID.COMMON_NAME, (common_name or hosts[0])[:64]))
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        # The same key hash as the CA's SKI, and still right for a CA made before CAs had one.
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return Pair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def fresh_enough(
    pair: Pair, ca: Pair, hosts: list[str] | None = None, *, now: datetime.datetime
) -> bool:
    """Usable as is: issued by `ca` (or `ca` itself), covering `hosts`, a third of its life left.

    Renewing at two thirds of the lifetime, as cert-manager does by default, leaves time for
    every replica and the API server to pick up the new certificate before the old one expires.
    """
    try:
        cert = x509.load_pem_x509_certificate(pair.cert)
        cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.cert))
        key = serialization.load_pem_private_key(pair.key, None)
        if key.public_key() != cert.public_key():
            return False
        covered: set[str] = set()
        if hosts is not None:
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            covered = {str(v) for v in sans.get_values_for_type(x509.IPAddress)}
            covered |= set(sans.get_values_for_type(x509.DNSName))
    except (ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature):
        return False
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    remaining = cert.not_valid_after_utc - now
    return set(hosts or ()) <= covered and remaining > lifetime / 3


def valid_cas(bundle: bytes, *, now: datetime.datetime) -> list[bytes]:
    """The unexpired certificates of a PEM bundle, each as PEM."""
    try:
        certs = x509.load_pem_x509_certificates(bundle) if bundle.strip() else []
    except ValueError:
        return []
    return [
        c.public_bytes(serialization.Encoding.PEM) for c in certs if c.not_valid_after_utc > now
    ]
