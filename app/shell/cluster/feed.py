"""Feed the index from the API server: what each watched object means to the index.

One reflector (`reflector.Watcher`) per kind: Namespaces, each registry-credential Secret type,
the names of every other Secret, and ServiceAccounts. This module maps their lists and events
onto the index; the reflector owns paging, resourceVersions and retries.
"""

import hashlib
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from kubernetes import client

from app.core import labels
from app.core.credentials.credential import (
    CREDENTIAL_TYPES,
    Credential,
    credential_from_secret,
    namespace_from_object,
)
from app.core.credentials.dockercfg import BadDockerConfig
from app.core.credentials.scope import claims_scope
from app.core.credentials.serviceaccount import service_account_from_object
from app.core.readiness import Readiness
from app.shell.cluster.events import EventWriter
from app.shell.cluster.index import Index
from app.shell.cluster.reflector import Watcher, metadata_only, readiness_of
from app.shell.telemetry import metrics

log = logging.getLogger("pullpass.watch")

OTHER_TYPES = ",".join(f"type!={t}" for t in CREDENTIAL_TYPES)
OTHER = "other"
CAPPED = "CredentialKeysCapped"


def _managed(obj: dict[str, Any]) -> bool:
    return bool((obj["metadata"].get("labels") or {}).get(labels.MANAGED_BY) == labels.PULLPASS)


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj["metadata"]
    return meta["namespace"], meta["name"]


class Feed:
    """The watchers that keep one index current, and their readiness."""

    def __init__(self, api: client.ApiClient, index: Index) -> None:
        self.index = index
        core = client.CoreV1Api(api)
        self._reported: set[str] = set()
        self._capped: dict[str, str] = {}  # Secret -> the version whose capping was reported
        self.events = EventWriter(core)
        secrets = core.list_secret_for_all_namespaces
        self.watchers = [
            Watcher(
                "namespaces", partial(core.list_namespace, _preload_content=False), self._namespace
            ),
            *(
                Watcher(
                    secret_type.split("/")[-1],
                    partial(secrets, field_selector=f"type={secret_type}", _preload_content=False),
                    self._secrets_of(secret_type),
                )
                for secret_type in CREDENTIAL_TYPES
            ),
            # Names only, of every other Secret: a copy must never take a name held by a Secret
            # that pullpass does not manage, registry credential or not. The typed watchers
            # report the credentials' names, so those are not fetched twice.
            Watcher(
                "secret-names",
                partial(metadata_only, secrets, field_selector=OTHER_TYPES),
                self._names,
            ),
            # Which pull secrets a strict ServiceAccount allows (admission must respect it).
            Watcher(
                "serviceaccounts",
                partial(core.list_service_account_for_all_namespaces, _preload_content=False),
                self._service_account,
            ),
        ]

    def start(self) -> None:
        self.events.start()
        for watcher in self.watchers:
            watcher.start()

    def stop(self) -> None:
        for watcher in self.watchers:
            watcher.stopping.set()

    def listed(self) -> bool:
        """Every watcher's first full list is in the index."""
        return all(w.listed.is_set() for w in self.watchers)

    def readiness(self) -> Readiness:
        return readiness_of(self.watchers)

    def _namespace(self, kind: str, obj: Any) -> None:
        if kind == "LIST":
            self.index.replace_namespaces(namespace_from_object(o) for o in obj)
        elif kind == "DELETED":
            self.index.delete_namespace(obj["metadata"]["name"])
        else:
            self.index.put_namespace(namespace_from_object(obj))
        self._sizes()

    def _service_account(self, kind: str, obj: Any) -> None:
        if kind == "LIST":
            self.index.replace_service_accounts(service_account_from_object(o) for o in obj)
        elif kind == "DELETED":
            self.index.delete_service_account(*_key(obj))
        else:
            self.index.put_service_account(service_account_from_object(obj))

    def _names(self, kind: str, obj: Any) -> None:
        self._hold(OTHER, kind, obj)

    def _hold(self, group: str, kind: str, obj: Any) -> None:
        if kind == "LIST":
            self.index.replace_held(group, (_key(o) for o in obj if not _managed(o)))
        else:
            self.index.hold(group, *_key(obj), kind != "DELETED" and not _managed(obj))

    def _secrets_of(self, secret_type: str) -> Callable[[str, Any], None]:
        def apply(kind: str, obj: Any) -> None:
            if kind == "LIST":
                credentials, unreadable = [], []
                for o in obj:
                    credential = self._credential(o)
                    if credential is not None:
                        credentials.append(credential)
                    elif not _managed(o):
                        # Still holds its name against copies; only the name is kept, not the data.
                        unreadable.append(_key(o))
                for capped in self.index.replace_credentials(secret_type, credentials):
                    self._report_capped(*capped)
                self.index.replace_held(secret_type, unreadable)
            else:
                credential = None if kind == "DELETED" else self._credential(obj)
                if credential is None:
                    self.index.delete_credential(*_key(obj))
                    self._capped.pop("/".join(_key(obj)), None)
                    self._hold(secret_type, kind, obj)
                else:
                    self._report_capped(credential, self.index.put_credential(credential))
                    self.index.hold(secret_type, *_key(obj), False)
            self._sizes()

        return apply

    def _credential(self, obj: dict[str, Any]) -> Credential | None:
        ref = f"{obj['metadata'].get('namespace')}/{obj['metadata'].get('name')}"
        try:
            home = obj["metadata"].get("namespace") == self.index.settings.credentials_namespace
            credential = credential_from_secret(obj, None if home else self.index.caps)
        except BadDockerConfig as error:
            self._report_once(ref, "registry credential ignored: unreadable data", str(error))
            return None
        if (
            credential is not None
            and credential.namespace != self.index.settings.credentials_namespace
            and claims_scope(credential)
            and not credential.managed
        ):
            self._report_once(
                ref, "source labels ignored outside the credentials namespace", "not a source"
            )
        return credential

    def _report_once(self, ref: str, message: str, why: str) -> None:
        if ref not in self._reported:
            self._reported.add(ref)
            log.warning(message, extra={"secret": ref, "why": why})

    def _report_capped(self, credential: Credential, left_out: int) -> None:
        """A metric, a log line and a Warning Event on the Secret, once per Secret version."""
        if not left_out or self._capped.get(credential.ref) == credential.version:
            return
        self._capped[credential.ref] = credential.version
        metrics.KEYS_CAPPED.inc(left_out)
        caps = self.index.caps
        message = (
            f"{left_out} of {len(credential.keys) + credential.left_out} registry keys left out: "
            f"pullpass indexes at most {caps.per_secret} keys per Secret, {caps.total} in the "
            f"cluster, each at most {caps.length} characters"
        )
        log.warning(
            "registry keys left out", extra={"secret": credential.ref, "left_out": left_out}
        )
        about = client.V1ObjectReference(
            api_version="v1",
            kind="Secret",
            name=credential.name,
            namespace=credential.namespace,
            uid=credential.uid or None,
            resource_version=credential.version or None,
        )
        once = hashlib.sha256(f"{credential.uid}/{credential.ref}/{credential.version}".encode())
        self.events.record(about, CAPPED, message, f"pullpass-keyscapped-{once.hexdigest()[:20]}")

    def _sizes(self) -> None:
        namespaces, credentials, keys = self.index.sizes()
        metrics.INDEX_NAMESPACES.set(namespaces)
        metrics.INDEX_CREDENTIALS.set(credentials)
        metrics.INDEX_KEYS.set(keys)
