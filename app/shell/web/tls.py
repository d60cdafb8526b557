"""The webhook's TLS context, reloaded in place when the certificate files change.

Reloading the live SSLContext means new handshakes get the new certificate with no restart and
no dropped connection; a broken pair is refused and the old one kept.
"""

import asyncio
import logging
import os
import ssl

from app.shell.telemetry import metrics

log = logging.getLogger("pullpass.tls")


class ReloadingContext:
    def __init__(self, cert_file: str, key_file: str) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(cert_file, key_file)
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
        metrics.CERT_RELOADS.labels("ok").inc()
        log.info("certificate reloaded", extra={"cert_file": self.cert_file})
        return True

    async def watch(self, interval: float = 1.0) -> None:
        while True:
            await asyncio.sleep(interval)
            self.reload_if_changed()
