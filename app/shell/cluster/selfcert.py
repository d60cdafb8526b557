"""Self-managed serving certificates: a CA and a serving pair kept in a Secret, no other add-on.

Every replica runs the same loop and converges on the Secret's content: the first to find it
missing or due for renewal writes a new one (optimistic concurrency settles races). The CA goes
into the MutatingWebhookConfiguration's caBundle a moment before the serving pair goes to disk, and
older CAs stay in the bundle until they expire, so the API server trusts the webhook through a
rotation.
"""

import base64
import datetime
import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kubernetes import client

from app.core import pki
from app.shell.cluster.client import call_json

log = logging.getLogger("pullpass.certs")

TRUST_GRACE = 2.0  # seconds between trusting a new CA and serving a pair it signed


class SelfManagedCerts(threading.Thread):
    def __init__(
        self,
        api: client.ApiClient,
        *,
        namespace: str,
        secret: str,
        webhook_config: str | None,
        service: str,
        cert_dir: str,
        days: int = 365,
        interval: float = 60.0,
        extra_hosts: Sequence[str] = (),
    ) -> None:
        super().__init__(name="self-managed-certs", daemon=True)
        self.core = client.CoreV1Api(api)
        self.admission = client.AdmissionregistrationV1Api(api)
        self.namespace = namespace
        self.secret = secret
        self.webhook_config = webhook_config
        self.hosts = [
            service,
            f"{service}.{namespace}",
            f"{service}.{namespace}.svc",
            f"{service}.{namespace}.svc.cluster.local",
        ]
        # Names the Service route does not give, e.g. an address the API server dials directly.
        self.hosts += [h for h in dict.fromkeys(extra_hosts) if h not in self.hosts]
        self.dir = Path(cert_dir)
        self.days = days
        self.interval = interval
        self.stopping = threading.Event()
        self._served_ca: bytes | None = None

    @property
    def cert_file(self) -> str:
        return str(self.dir / "tls.crt")

    @property
    def key_file(self) -> str:
        return str(self.dir / "tls.key")

    def ensure(self) -> None:
        """One round: make the Secret current, trust its CA, then serve its pair.

        The API server learns a new caBundle from its own watch, a moment after the patch; a pair
        from a new CA served before then fails its calls, and pods go through uninjected.
        """
        ca, serving = self._current_or_new()
        patched = self._trust(ca)
        if patched or self._served_ca not in (None, ca.cert):
            self.stopping.wait(TRUST_GRACE)
        self._served_ca = ca.cert
        self.dir.mkdir(parents=True, exist_ok=True)
        _write_if_changed(self.dir / "tls.key", serving.key)
        _write_if_changed(self.dir / "tls.crt", serving.cert)

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.ensure()
            except Exception as error:  # the API may be down; the next round tries again
                log.warning("certificate check failed", extra={"why": type(error).__name__})

    def _current_or_new(self) -> tuple[pki.Pair, pki.Pair]:
        for _ in range(3):
            now = datetime.datetime.now(datetime.UTC)
            existing = self._read()
            data = (existing or {}).get("data") or {}
            ca = _pair(data, "ca.crt", "ca.key")
            serving = _pair(data, "tls.crt", "tls.key")
            ca_ok = ca is not None and pki.fresh_enough(ca, ca, now=now)
            if (
                ca is not None
                and serving is not None
                and ca_ok
                and pki.fresh_enough(serving, ca, self.hosts, now=now)
            ):
                return ca, serving
            if ca is None or not ca_ok:
                ca = pki.new_ca(self.days * 3, now=now)
            serving = pki.issue(ca, self.hosts, self.days, now=now)
            if self._store(existing, ca, serving):
                log.info(
                    "serving certificate issued",
                    extra={"secret": f"{self.namespace}/{self.secret}"},
                )
                return ca, serving
        raise RuntimeError("the certificate Secret kept changing under us")

    def _read(self) -> dict[str, Any] | None:
        try:
            return call_json(self.core.read_namespaced_secret, self.secret, self.namespace)
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise

    def _store(self, existing: dict[str, Any] | None, ca: pki.Pair, serving: pki.Pair) -> bool:
        """False when another replica won the race: the caller reads its result instead."""
        data = {
            "ca.crt": ca.cert,
            "ca.key": ca.key,
            "tls.crt": serving.cert,
            "tls.key": serving.key,
        }
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": self.secret,
                "namespace": self.namespace,
                "labels": {"app.kubernetes.io/managed-by": "pullpass"},
            },
            "type": "kubernetes.io/tls",
            "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
        }
        try:
            if existing is None:
                call_json(self.core.create_namespaced_secret, self.namespace, body)
            else:
                body["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
                call_json(self.core.replace_namespaced_secret, self.secret, self.namespace, body)
        except client.ApiException as error:
            if error.status == 409:
                return False
            raise
        return True

    def _trust(self, ca: pki.Pair) -> bool:
        """Put `ca` in the webhook's caBundle; with no webhook (secretless mode alone) nobody
        else needs to trust it through the API server."""
        if self.webhook_config is None:
            return False
        config = call_json(self.admission.read_mutating_webhook_configuration, self.webhook_config)
        patch = []
        now = datetime.datetime.now(datetime.UTC)
        for i, webhook in enumerate(config.get("webhooks") or ()):
            current = base64.b64decode((webhook.get("clientConfig") or {}).get("caBundle") or "")
            kept = [c for c in pki.valid_cas(current, now=now) if c.strip() != ca.cert.strip()]
            bundle = b"".join([ca.cert, *kept[:2]])
            if bundle != current:
                value = base64.b64encode(bundle).decode()
                patch.append(
                    {"op": "add", "path": f"/webhooks/{i}/clientConfig/caBundle", "value": value}
                )
        if patch:
            self.admission.patch_mutating_webhook_configuration(self.webhook_config, patch)
            log.info("caBundle updated", extra={"webhook_config": self.webhook_config})
        return bool(patch)


def _pair(data: dict[str, str], cert: str, key: str) -> pki.Pair | None:
    if cert not in data or key not in data:
        return None
    try:
        return pki.Pair(base64.b64decode(data[cert]), base64.b64decode(data[key]))
    except ValueError:
        return None


def _write_if_changed(path: Path, content: bytes) -> None:
    """Atomic replace, so the TLS reloader never reads half a file."""
    if path.exists() and path.read_bytes() == content:
        return
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
