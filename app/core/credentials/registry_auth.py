"""The user name and password a registry key of a Secret holds, for secretless mode (pure).

The webhook never needs these: it names Secrets and the kubelet reads them. In secretless mode
pullpass answers the kubelet itself, so it reads the matching entry of the Secret it fetched for
this one request, and keeps nothing of it.
"""

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from app.core.credentials.dockercfg import (
    DATA_KEYS,
    BadDockerConfig,
    entry_login,
    registry_entries,
)


def login_for(secret: Mapping[str, Any], key: str) -> tuple[str, str] | None:
    """The login of registry key `key` in a registry-credential Secret, as the API returns it.

    Raises BadDockerConfig when the kubelet could not read the Secret either.
    """
    secret_type = str(secret.get("type", ""))
    field = DATA_KEYS.get(secret_type)
    if field is None:
        raise BadDockerConfig(f"type {secret_type!r} is not a registry credential type")
    encoded = (secret.get("data") or {}).get(field)
    if not isinstance(encoded, str) or not encoded:
        return None
    try:
        payload = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BadDockerConfig(f"data[{field}] is not valid base64") from None
    entry = registry_entries(secret_type, payload).get(key)
    return None if entry is None else entry_login(entry)
