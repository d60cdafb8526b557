"""What the index keeps of Namespaces and registry-credential Secrets, and nothing more.

Secret data never leaves `credential_from_secret`: only the registry keys and a keyed digest
(`digest.secret_data`, to tell a copy in sync with its source) are made from it, so no username,
password, `auth` or token can reach memory that outlives one event.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.core import labels
from app.core.credentials.digest import secret_data
from app.core.credentials.dockercfg import BadDockerConfig, capped_registry_keys
from app.core.credentials.keyset import KeyCaps

CREDENTIAL_TYPES = ("kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg")


@dataclass(frozen=True, slots=True)
class NamespaceInfo:
    """`annotations` holds only Rancher's project annotation, the one annotation scope reads."""

    name: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return self.labels.get(labels.INJECT) == labels.ENABLED


@dataclass(frozen=True, slots=True)
class Credential:
    namespace: str
    name: str
    type: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    keys: tuple[str, ...]
    version: str = ""
    digest: bytes = b""
    uid: str = ""
    left_out: int = 0  # registry keys the caps left out of `keys`

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def managed(self) -> bool:
        return self.labels.get(labels.MANAGED_BY) == labels.PULLPASS


def namespace_from_object(obj: Mapping[str, Any]) -> NamespaceInfo:
    metadata = obj.get("metadata") or {}
    annotations = {
        k: v for k, v in _strings(metadata, "annotations").items() if k == labels.RANCHER_PROJECT
    }
    return NamespaceInfo(
        name=str(metadata.get("name", "")),
        labels=_strings(metadata, "labels"),
        annotations=annotations,
    )


def credential_from_secret(
    obj: Mapping[str, Any], caps: KeyCaps | None = None
) -> Credential | None:
    """None for Secrets that are not registry credentials; under `caps`, with at most
    `caps.per_secret` keys (`dockercfg.capped_registry_keys`).

    Raises BadDockerConfig when a credential's data cannot be read, so callers can report it.
    Only pullpass's own annotations are kept: others, such as kubectl's last-applied
    configuration, may carry the whole Secret, data included.
    """
    secret_type = obj.get("type")
    if secret_type not in CREDENTIAL_TYPES:
        return None
    metadata = obj.get("metadata") or {}
    annotations = {
        k: v for k, v in _strings(metadata, "annotations").items() if k.startswith(labels.PREFIX)
    }
    data = obj.get("data")
    if data is not None and not isinstance(data, Mapping):
        raise BadDockerConfig("data must be an object")
    keys, left_out = capped_registry_keys(str(secret_type), data or {}, caps)
    return Credential(
        namespace=str(metadata.get("namespace", "")),
        name=str(metadata.get("name", "")),
        type=str(secret_type),
        labels=_strings(metadata, "labels"),
        annotations=annotations,
        keys=keys,
        version=str(metadata.get("resourceVersion", "")),
        digest=secret_data(str(secret_type), data or {}),
        uid=str(metadata.get("uid", "")),
        left_out=left_out,
    )


def _strings(metadata: Mapping[str, Any], field: str) -> dict[str, str]:
    value = metadata.get(field) or {}
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}
