"""A hostile tenant's Secrets: registry credentials of about 1 MiB, created, then updated in a loop.

Each Secret's `.dockerconfigjson` holds tens of thousands of registry keys, new ones every
update, as issue 22 measured them (0.95 MiB, 39,000 keys). Shared by the scope suite's flood test
and `bench/tenant_flood.py`; talks raw JSON over one kept-alive admin connection, so the flood
costs the API server and pullpass, not the client.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
from typing import Any

from localcluster.control_plane import ControlPlane

# Raw config bytes per Secret: base64 makes that about 0.98 MiB of the Secret's 1 MiB limit.
CONFIG_BYTES = 770_000


def flood_secret(namespace: str, name: str, generation: int) -> dict[str, Any]:
    """A dockerconfigjson Secret whose keys all differ from those of other names or generations."""
    auths: dict[str, dict[str, str]] = {}
    size = 12
    n = 0
    while size < CONFIG_BYTES:
        key = f"r{n}.g{generation}.{name}.fl"
        auths[key] = {}
        size += len(key) + 6
        n += 1
    config = json.dumps({"auths": auths}, separators=(",", ":")).encode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(config).decode()},
    }


class Admin:
    """One kept-alive HTTPS connection to the API server as admin (one thread uses it)."""

    def __init__(self, cluster: ControlPlane, timeout: float = 60) -> None:
        self._address = (cluster.address, cluster.apiserver_port)
        self._context = cluster.admin_ssl_context()
        self._timeout = timeout
        self._conn: http.client.HTTPSConnection | None = None

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        """One request, reconnecting once if the kept-alive connection was closed."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in (1, 2):
            if self._conn is None:
                host, port = self._address
                self._conn = http.client.HTTPSConnection(
                    host, port, context=self._context, timeout=self._timeout
                )
            try:
                self._conn.request(method, path, data, headers)
                answer = self._conn.getresponse()
                return answer.status, answer.read()
            except (http.client.HTTPException, OSError):
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


class SecretFlood(threading.Thread):
    """`count` Secrets in `namespace`, created, then each replaced with new keys, round after
    round, until `stop()`. `writes` counts the API server's successful answers."""

    def __init__(self, cluster: ControlPlane, namespace: str, count: int) -> None:
        super().__init__(name=f"flood-{namespace}", daemon=True)
        self._admin = Admin(cluster)
        self.namespace = namespace
        self.count = count
        self.writes = 0
        self.errors: list[str] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        collection = f"/api/v1/namespaces/{self.namespace}/secrets"
        generation = 0
        try:
            while not self._stopping.is_set():
                for i in range(self.count):
                    if self._stopping.is_set():
                        break
                    name = f"flood-{i}"
                    body = flood_secret(self.namespace, name, generation)
                    if generation == 0:
                        status, data = self._admin.request("POST", collection, body)
                    else:
                        status, data = self._admin.request("PUT", f"{collection}/{name}", body)
                    if status in (200, 201):
                        self.writes += 1
                    else:
                        self.errors.append(f"{status} {data[:200]!r}")
                        time.sleep(0.5)
                generation += 1
        finally:
            self._admin.close()

    def wait_writes(self, writes: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.writes < writes:
            if time.monotonic() > deadline or not self.is_alive():
                raise AssertionError(
                    f"flood: {self.writes} of {writes} writes in {timeout}s ({self.errors[-3:]})"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        self._stopping.set()
        self.join(120)
