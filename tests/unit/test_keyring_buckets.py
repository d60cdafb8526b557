"""The bucketed Keyring answers exactly as a plain scan of every key, the kubelet's way."""

from hypothesis import example, given
from hypothesis import strategies as st

from app.core.images.keyring import (
    Keyring,
    RegistryKey,
    is_default_registry_match,
    key_matches,
    parse_key,
)
from app.core.images.reference import parse_image

HOSTS = [
    "quay.io",
    "*.io",
    "q*.io",
    "a.b.io",
    "*.*.io",
    "localhost:5000",
    "localhost",
    "[::1]:5000",
    "index.docker.io",
    "docker.io",
    "*.docker.io",
    "reg.example.com:5000",
    "r[a-z]g.example.com",
]
PATHS = ["", "/team", "/team/app", "/v1/", "/v2/team", "/te"]
SCHEMES = ["", "https://", "http://"]
IMAGES = [
    "quay.io/team/app",
    "qq.io/x",
    "a.b.io/team/app",
    "nginx",
    "library/nginx",
    "docker.io/x/y",
    "localhost:5000/team/app",
    "localhost/team",
    "reg.example.com:5000/team/app",
    "index.docker.io/x/y",
    "rag.example.com/team",
    "x.docker.io/team",
]

KEYS = st.lists(
    st.builds(
        lambda s, h, p: f"{s}{h}{p}",
        st.sampled_from(SCHEMES),
        st.sampled_from(HOSTS),
        st.sampled_from(PATHS),
    ),
    max_size=12,
)


def plain_scan(keys: list[RegistryKey], image: str) -> list[RegistryKey]:
    """The kubelet's Lookup, written as directly as possible, for comparison."""
    name = parse_image(image)
    assert name is not None
    direct = [k for k in keys if key_matches(k, name)]
    if direct:
        return sorted(direct, key=lambda k: k.order, reverse=True)
    return [k for k in keys if k.docker_hub] if is_default_registry_match(name.name) else []


@given(raw=KEYS, image=st.sampled_from(IMAGES))
# A plain scan only filters by port and label count through `key_matches`, the buckets by their
# own keys: each example makes one comparison decide, so breaking it is caught every run.
@example(raw=["localhost:5000"], image="localhost/team")  # port on the key only
@example(raw=["localhost"], image="localhost:5000/team/app")  # port on the image only
@example(raw=["local*:5000"], image="localhost/team")  # a glob key's port
@example(raw=["q*.io"], image="reg.example.com:5000/team/app")  # a glob, another port
@example(raw=["*.io"], image="a.b.io/team/app")  # fewer glob labels than the image's
@example(raw=["*.*.io"], image="quay.io/team/app")  # more glob labels than the image's
@example(raw=["a.b.io"], image="quay.io/team/app")  # exact keys of another label count
def test_buckets_answer_as_a_plain_scan(raw: list[str], image: str) -> None:
    keys = [k for k in map(parse_key, raw) if k is not None]
    name = parse_image(image)
    assert name is not None
    assert Keyring(keys).lookup(name) == plain_scan(keys, image)


def test_duplicate_keys_keep_their_positions() -> None:
    key = parse_key("quay.io")
    assert key is not None
    assert Keyring([key, key]).positions("quay.io/a/b") == [0, 1]
