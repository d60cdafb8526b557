"""The webhook's TLS context, reloaded in place when the certificate files change.

Reloading the live SSLContext means new handshakes get the new certificate with no restart and
no dropped connection; a broken pair is refused and the old one kept.
"""

import asyncio
import logging
import os
import ssl
from pathlib import Path

from cryptography import x509

from app.shell.telemetry import metrics

log = logging.getLogger("pullpass.tls")

# TLS 1.2 suites with forward secrecy and authenticated encryption only: no CBC, whose padding
# and MAC-then-encrypt design keeps producing attacks. TLS 1.3 suites are all AEAD already.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


class ReloadingContext:
    """`client_ca_file`: require a client certificate signed by that CA (secretless mode's port,
    where the kubelet proves which node it is)."""

    def __init__(self, cert_file: str, key_file: str, client_ca_file: str | None = None) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.set_ciphers(TLS12_CIPHERS)
        if client_ca_file is not None:
            self.context.verify_mode = ssl.CERT_REQUIRED
            self.context.load_verify_locations(client_ca_file)
        self.context.load_cert_chain(cert_file, key_file)
        self._record_expiry()
        self._stamp = self._read_stamp()
        self._refused: tuple[float, float, int, int] | None = None

    def _read_stamp(self) -> tuple[float, float, int, int]:
        cert, key = os.stat(self.cert_file), os.stat(self.key_file)
        return cert.st_mtime, key.st_mtime, cert.st_ino, key.st_ino

    def reload_if_changed(self) -> bool:
        """Files mid-rotation are retried on the next tick; a bad pair is reported once."""
        try:
            stamp = self._read_stamp()
        except OSError:
            return False
        if stamp in (self._stamp, self._refused):
            return False
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(self.cert_file, self.key_file)
            self.context.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as error:
            self._refused = stamp
            metrics.CERT_RELOADS.labels("error").inc()
            log.warning(
                "certificate reload refused, keeping the current one", extra={"why": str(error)}
            )
            return False
        self._stamp = stamp
        self._record_expiry()
        metrics.CERT_RELOADS.labels("ok").inc()
        log.info("certificate reloaded", extra={"cert_file": self.cert_file})
        return True

    def _record_expiry(self) -> None:
        """The leaf's notAfter, from the file the context just loaded (the chain's first PEM)."""
        try:
            leaf = x509.load_pem_x509_certificate(Path(self.cert_file).read_bytes())
        except (OSError, ValueError):
            return  # the context loaded it a moment ago; a file swapped since is read next reload
        metrics.CERT_EXPIRY.set(leaf.not_valid_after_utc.timestamp())

    async def watch(self, interval: float = 1.0) -> None:
        while True:
            await asyncio.sleep(interval)
            self.reload_if_changed()
