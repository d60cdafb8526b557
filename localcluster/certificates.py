"""Certificates for the local cluster, made by pullpass's own PKI module."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.core import pki


@dataclass(frozen=True)
class KeyPair:
    """A PEM certificate and key."""

    cert_pem: bytes
    key_pem: bytes


def new_ca(common_name: str, days: int = 30) -> KeyPair:
    """A self-signed CA, made by pullpass's own PKI module."""
    ca = pki.new_ca(days, now=datetime.datetime.now(datetime.UTC), common_name=common_name)
    return KeyPair(ca.cert, ca.key)


def issue(
    ca: KeyPair,
    common_name: str,
    *,
    hosts: Sequence[str] = (),
    organizations: Sequence[str] = (),
    client: bool = False,
    days: int = 30,
) -> KeyPair:
    """A leaf certificate signed by `ca`: serving (SANs from `hosts`) or client (O = groups)."""
    pair = pki.issue(
        pki.Pair(ca.cert_pem, ca.key_pem),
        hosts,
        days,
        now=datetime.datetime.now(datetime.UTC),
        common_name=common_name,
        organizations=organizations,
        client=client,
    )
    return KeyPair(pair.cert, pair.key)


def write_pair(pair: KeyPair, directory: Path, stem: str) -> tuple[Path, Path]:
    """`stem.crt` and `stem.key` (mode 0600) in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert.write_bytes(pair.cert_pem)
    key.write_bytes(pair.key_pem)
    key.chmod(0o600)
    return cert, key
