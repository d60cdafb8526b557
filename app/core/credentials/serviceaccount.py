"""What the index keeps of a ServiceAccount: whether it restricts pull secrets, and to which.

The API server's ServiceAccount admission refuses a pod whose ServiceAccount enforces mountable
secrets when the pod lists a pull secret the ServiceAccount does not. pullpass must never cause
that, so it keeps, per ServiceAccount, only the name, that annotation and the pull-secret names:
no token, no other annotation, no mountable-secret list.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ENFORCE_MOUNTABLE_SECRETS = "kubernetes.io/enforce-mountable-secrets"
DEFAULT = "default"
# The API server reads the annotation with Go's strconv.ParseBool: these spellings are true.
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})


@dataclass(frozen=True, slots=True)
class ServiceAccountInfo:
    namespace: str
    name: str
    enforce_mountable_secrets: str | None
    pull_secrets: tuple[str, ...]

    @property
    def strict(self) -> bool:
        """Only the pull secrets it lists may appear on its pods."""
        return self.enforce_mountable_secrets in _GO_TRUE


def ordinary(namespace: str, name: str) -> ServiceAccountInfo:
    """A ServiceAccount that restricts nothing, for sources that hold no ServiceAccounts."""
    return ServiceAccountInfo(namespace, name, None, ())


def service_account_from_object(obj: Mapping[str, Any]) -> ServiceAccountInfo:
    metadata = obj.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    enforce = annotations.get(ENFORCE_MOUNTABLE_SECRETS) if isinstance(annotations, dict) else None
    refs = obj.get("imagePullSecrets") or ()
    names = tuple(
        str(ref["name"])
        for ref in (refs if isinstance(refs, list) else ())
        if isinstance(ref, dict) and isinstance(ref.get("name"), str)
    )
    return ServiceAccountInfo(
        namespace=str(metadata.get("namespace", "")),
        name=str(metadata.get("name", "")),
        enforce_mountable_secrets=enforce if isinstance(enforce, str) else None,
        pull_secrets=names,
    )
