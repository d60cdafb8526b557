"""Keyed digests: a way to tell two Secrets' data apart without keeping either.

The key is random per process, so a digest can be compared only with others made by the same
process and reveals nothing about the credentials it was made from, even to whoever reads it.
"""

import hashlib
import os
from collections.abc import Mapping
from typing import Any

_KEY = os.urandom(16)


def keyed(*parts: bytes) -> bytes:
    """One digest of `parts`, each length-prefixed so no two sequences of parts collide."""
    digest = hashlib.blake2b(key=_KEY, digest_size=16)
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


def secret_data(secret_type: str, data: Mapping[str, Any]) -> bytes:
    """A Secret's type and data, as the API returns them (base64 values), in one digest."""
    parts = [secret_type.encode()]
    for name in sorted(data):
        parts += [str(name).encode(), str(data[name]).encode("utf-8", "surrogatepass")]
    return keyed(*parts)
