"""Certificates from app.core.pki carry what strict X.509 verifiers (Python 3.13+) require."""

import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from app.core import pki

# Certificates hold whole seconds; the strict verifier below checks against the real clock.
NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
CA = pki.new_ca(30, now=NOW)
LEAF = pki.issue(CA, ["127.0.0.1", "pullpass.example"], 10, now=NOW)
CLIENT = pki.issue(CA, ["admin"], 10, now=NOW, organizations=["system:masters"], client=True)


def _cert(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def test_ca_has_subject_key_id_and_critical_cert_signing_usage() -> None:
    ca = _cert(CA.cert)
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert ski.value == x509.SubjectKeyIdentifier.from_public_key(ca.public_key())
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign
    assert usage.value.crl_sign
    assert not usage.value.digital_signature
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


@pytest.mark.parametrize("pair", [LEAF, CLIENT], ids=["serving", "client"])
def test_leaf_has_both_key_ids_and_critical_signature_usage(pair: pki.Pair) -> None:
    leaf, ca = _cert(pair.cert), _cert(CA.cert)
    ski = leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(leaf.public_key())
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert not usage.value.key_cert_sign
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_strict_verifier_accepts_the_chain(tmp_path: Path) -> None:
    """The X.509 strict flag is what 3.13 turns on by default; set it here on every version."""
    (tmp_path / "ca.crt").write_bytes(CA.cert)
    (tmp_path / "tls.crt").write_bytes(LEAF.cert)
    (tmp_path / "tls.key").write_bytes(LEAF.key)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    client = ssl.create_default_context(cafile=tmp_path / "ca.crt")
    client.verify_flags |= ssl.VERIFY_X509_STRICT
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    back_in, back_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    c = client.wrap_bio(incoming, outgoing, server_hostname="pullpass.example")
    s = server.wrap_bio(back_in, back_out, server_side=True)
    done = {"c": False, "s": False}
    for _ in range(10):
        for name, side in (("c", c), ("s", s)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        back_in.write(outgoing.read())
        incoming.write(back_out.read())
        if all(done.values()):
            break
    assert all(done.values())


def test_the_clock_is_the_callers() -> None:
    """The core reads no clock: validity starts at the `now` given, and so do the checks."""
    ca = _cert(CA.cert)
    assert ca.not_valid_before_utc == NOW - datetime.timedelta(minutes=5)
    assert ca.not_valid_after_utc == NOW + datetime.timedelta(days=30)
    leaf = _cert(CLIENT.cert)
    assert leaf.not_valid_after_utc == NOW + datetime.timedelta(days=10)
    assert pki.fresh_enough(CLIENT, CA, now=NOW + datetime.timedelta(days=6))
    assert not pki.fresh_enough(CLIENT, CA, now=NOW + datetime.timedelta(days=7)), "a third left"
    assert pki.valid_cas(CA.cert, now=NOW + datetime.timedelta(days=29)) == [CA.cert]
    assert pki.valid_cas(CA.cert, now=NOW + datetime.timedelta(days=31)) == []
