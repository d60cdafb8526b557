"""No credential material survives in the index: only names, labels and registry keys."""

import base64
import gc
import json
from typing import Any

from kubernetes import client

from app.core.credentials.scope import ScopeSettings
from app.core.images.reference import parse_image
from app.shell.cluster.feed import Feed
from app.shell.cluster.index import Index
from tests.kit.objects import secret

PASSWORD = "hunter2-0a9f7c"
USER = "robot-user-77"
TOKEN = "tok-3be81d"


def reachable(root: object) -> list[str]:
    """Every string reachable from `root` through references, as gc sees them."""
    seen: set[int] = set()
    stack: list[Any] = [root]
    strings = []
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            strings.append(obj)
        elif isinstance(obj, bytes):
            strings.append(obj.decode("latin-1"))
        else:
            stack.extend(gc.get_referents(obj))
    return strings


def test_index_keeps_no_usernames_passwords_auth_or_tokens() -> None:
    index = Index(ScopeSettings("home"))
    feed = Feed(client.ApiClient(client.Configuration()), index)
    obj = secret("a", "s", {"quay.io": (USER, PASSWORD)}, labels={"team": "a"})
    # kubectl apply leaves the whole object, data included, in this annotation.
    obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(
        obj
    )
    token = secret("a", "t", {"gcr.io": ("oauth2accesstoken", TOKEN)}, legacy=True)
    apply_json = feed.watchers[1]._apply
    apply_json("LIST", [obj])
    feed.watchers[2]._apply("ADDED", token)
    index.table("a")
    image = parse_image("quay.io/app")
    assert image is not None
    assert index.serves_anywhere(image)
    assert [c.keys for c in index.credentials()] in (
        [("quay.io",), ("gcr.io",)],
        [("gcr.io",), ("quay.io",)],
    )
    strings = reachable(index)
    assert "quay.io" in strings
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for needle in (PASSWORD, USER, TOKEN, auth, '"auths"', obj["data"][".dockerconfigjson"][:20]):
        assert not [s for s in strings if needle in s], needle
