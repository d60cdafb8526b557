"""A component's /healthz on loopback, as its start waits for it."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request


def healthz_ok(url: str, *, self_signed: bool = False) -> bool:
    """Whether `url` answers 200. `self_signed`: the component serves https with a certificate
    of its own making, which nothing can verify; its /healthz is public, so none is checked."""
    context = None
    if self_signed:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as answer:
            return bool(answer.status == 200)
    except urllib.error.HTTPError:
        return False
