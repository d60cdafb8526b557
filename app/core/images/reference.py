"""Image references as the kubelet reads them: distribution/reference `ParseNormalizedNamed`.

The kubelet asks its keyring for credentials with `named.Name()` of the normalised reference, so
matching is only exact if the image is parsed by the same grammar, with the same quirks (an
uppercase first component is a domain, `index.docker.io` becomes `docker.io`, a name whose first
component only looks like a domain may end up with no domain at all). Pure: no I/O, no state.
"""

import re
from typing import NamedTuple

# The grammar of distribution/reference regexp.go, spelt with explicit ASCII classes: Go's `\w`
# and `[[:xdigit:]]` are ASCII-only, and Python's `$` would also match before a final newline,
# so every pattern is used with fullmatch instead.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = _ALNUM + r"(?:" + _SEPARATOR + _ALNUM + r")*"
_REMOTE_NAME = _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*"
_IPV6_ADDRESS = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_AND_PORT = r"(?:" + _DOMAIN_NAME + r"|" + _IPV6_ADDRESS + r")(?::[0-9]+)?"
_TAG = r"[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}"
_NAME = r"(?:" + _DOMAIN_AND_PORT + r"/)?" + _REMOTE_NAME

_REFERENCE = re.compile(r"(" + _NAME + r")(?::(" + _TAG + r"))?(?:@(" + _DIGEST + r"))?")
_ANCHORED_NAME = re.compile(r"(?:(" + _DOMAIN_AND_PORT + r")/)?(" + _REMOTE_NAME + r")")
_IDENTIFIER = re.compile(r"[a-f0-9]{64}")

# go-digest: only algorithms linked into the kubelet are "available", each with a fixed length of
# lowercase hex; any other algorithm is ErrDigestUnsupported.
_DIGEST_HEX = {
    "sha256": re.compile(r"[a-f0-9]{64}"),
    "sha384": re.compile(r"[a-f0-9]{96}"),
    "sha512": re.compile(r"[a-f0-9]{128}"),
}

NAME_TOTAL_LENGTH_MAX = 255
DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
LOCALHOST = "localhost"


class ImageName(NamedTuple):
    """A normalised repository: tag and digest dropped. `domain` is "" when upstream finds none."""

    domain: str
    path: str

    @property
    def name(self) -> str:
        """The string the kubelet's keyring `Lookup` receives (`Named.Name()`)."""
        return f"{self.domain}/{self.path}" if self.domain else self.path


class Reference(NamedTuple):
    """What `reference.Parse` reads from a string, before any normalisation."""

    domain: str
    path: str
    tag: str
    digest: str

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path


def _valid_digest(digest: str) -> bool:
    algorithm, _, encoded = digest.partition(":")
    pattern = _DIGEST_HEX.get(algorithm)
    return pattern is not None and pattern.fullmatch(encoded) is not None


def parse_reference(ref: str) -> Reference | None:
    """`reference.Parse`: the grammar without normalisation; None where upstream errors."""
    match = _REFERENCE.fullmatch(ref)
    if match is None:
        return None
    name, tag, digest = match.group(1), match.group(2) or "", match.group(3) or ""
    split = _ANCHORED_NAME.fullmatch(name)
    domain, path = (split.group(1) or "", split.group(2)) if split else ("", name)
    if len(path) > NAME_TOTAL_LENGTH_MAX:
        return None
    if digest and not _valid_digest(digest):
        return None
    return Reference(domain, path, tag, digest)


def _split_docker_domain(name: str) -> tuple[str, str]:
    maybe_domain, slash, maybe_remote = name.partition("/")
    if not slash:
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name
    if maybe_domain == LOCALHOST:
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain == LEGACY_DEFAULT_DOMAIN:
        domain, remote = DEFAULT_DOMAIN, maybe_remote
    elif "." in maybe_domain or ":" in maybe_domain or maybe_domain.lower() != maybe_domain:
        domain, remote = maybe_domain, maybe_remote
    else:
        domain, remote = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = OFFICIAL_REPO_PREFIX + remote
    return domain, remote


def parse_image(ref: str) -> ImageName | None:
    """`ParseNormalizedNamed`, tag and digest validated then dropped; None for any invalid input.

    Never raises: every grammar element is ASCII, so anything else is rejected up front.
    """
    if not ref.isascii() or _IDENTIFIER.fullmatch(ref):
        return None
    domain, remainder = _split_docker_domain(ref)
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        return None
    parsed = parse_reference(domain + "/" + remainder)
    if parsed is None:
        return None
    return ImageName(parsed.domain, parsed.path)
