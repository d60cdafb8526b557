"""The CEL of policy mode: the webhook's decision over one list of compiled entries (pure).

The expressions mirror `reference.parse_image` (ParseNormalizedNamed), `keyring.target_of`,
`keyring.Keyring.positions` (direct matches, else Docker Hub keys for images the kubelet's
`isDefaultRegistryMatch` accepts) and `admission.handle` (append what is not listed, in entry
order, and the `pullpass.io/injected` annotation). CEL has no functions, so shared steps are
policy variables: the images; their keyring targets [host, port, path, hub, registry] (an image
of a common shape read straight from the string, any other through every step of the grammar,
with the regexes `reference.py` uses); the names of the entries whose keys serve each target,
looked up by exact host in the entries' indexes; the names to add.
"""

from app.core import labels
from app.core.admission.handle import WARNING_LIMIT
from app.core.images import reference as ref

_FIRST = "n.substring(0, n.indexOf('/'))"
_REST = "n.substring(n.indexOf('/') + 1)"
_DIGESTS = "^(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$"


def _quote(text: str) -> str:
    """A CEL single-quoted string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _images() -> str:
    containers = "(has(object.spec.{0}) ? object.spec.{0} : [])"
    image = ".map(c, has(c.image) ? c.image : '')"
    return (
        containers.format("initContainers")
        + image
        + " + "
        + containers.format("containers")
        + image
    )


_I_FIRST = "i.substring(0, i.indexOf('/'))"
_I_REST = "i.substring(i.indexOf('/') + 1)"
_I_DOMAIN = (
    f"({_I_FIRST} == 'index.docker.io' || {_I_FIRST} == 'localhost' || {_I_FIRST}.contains('.') "
    f"|| {_I_FIRST}.contains(':') || {_I_FIRST}.lowerAscii() != {_I_FIRST})"
)


def _full(images: str) -> str:
    """`_split_docker_domain`, joined again as domain/remainder, bare identifiers dropped."""
    remote = f"(!i.contains('/') ? i : {_I_DOMAIN} ? {_I_REST} : i)"
    hub_rest = f"({_I_REST}.contains('/') ? 'docker.io/' : 'docker.io/library/') + {_I_REST}"
    full = (
        "!i.contains('/') ? 'docker.io/library/' + i : "
        f"{_I_FIRST} == 'index.docker.io' || {_I_FIRST} == 'docker.io' ? {hub_rest} : "
        f"{_I_DOMAIN} ? i : 'docker.io/' + i"
    )
    return (
        f"{images}.filter(i, !i.matches('^[a-f0-9]{{64}}$') && "
        f"!{remote}.split(':')[0].matches('[A-Z]')).map(i, {full})"
    )


def _references(full: str) -> str:
    """`parse_reference` of domain/remainder, checked, then tag and digest dropped."""
    grammar = _quote(f"^(?:{ref._NAME})(?::{ref._TAG})?(?:@{ref._DIGEST})?$")
    return (
        f"{full}.filter(f, f.matches({grammar}) && "
        f"(!f.contains('@') || f.substring(f.indexOf('@') + 1).matches({_quote(_DIGESTS)})))"
        ".map(f, f.split('@')[0])"
        ".map(n, n.lastIndexOf(':') > n.lastIndexOf('/') ? n.substring(0, n.lastIndexOf(':')) : n)"
    )


def _exact_targets(names: str) -> str:
    """What the keyring's `Lookup` parses each name into: [host, port, path, hub, registry]."""
    has_domain = (
        f"({_FIRST}.matches({_quote('^' + ref._DOMAIN_AND_PORT + '$')}) && "
        f"{_REST}.matches({_quote('^' + ref._REMOTE_NAME + '$')}))"
    )
    path_ok = f"({has_domain} ? {_REST} : n).size() <= {ref.NAME_TOTAL_LENGTH_MAX}"
    bracketed = f"{_FIRST}.matches('^\\\\[[^\\\\]]*\\\\]:[0-9]+$')"
    plain = f"{_FIRST}.matches('^[^:\\\\[\\\\]]*:[0-9]+$')"
    host = (
        f"{bracketed} ? {_FIRST}.substring(1, {_FIRST}.indexOf(']')) : "
        f"{plain} ? {_FIRST}.substring(0, {_FIRST}.indexOf(':')) : {_FIRST}"
    )
    port = (
        f"{bracketed} ? {_FIRST}.substring({_FIRST}.indexOf(']') + 2) : "
        f"{plain} ? {_FIRST}.substring({_FIRST}.indexOf(':') + 1) : ''"
    )
    hub = (
        f"{_FIRST} == 'docker.io' || {_FIRST} == 'index.docker.io' || "
        f"!({_FIRST}.contains('.') || {_FIRST}.contains(':'))"
    )
    return (
        f"{names}.filter(n, {path_ok})"
        f".map(n, [{host}, {port}, '/' + {_REST}, ({hub}) ? 'y' : '', {_FIRST}])"
    )


# Images of the common shapes, for which `parse_image` and `target_of` reduce to string splits: a
# lowercase domain with a dot or a port, or none (Docker Hub's), lowercase path components, a tag,
# a sha256 digest, under 128 characters (so within every length limit), neither `localhost/...`
# nor a bare identifier. `_PLAIN_TARGET` is `_exact_targets`' [host, port, path, hub, registry]
# for them, from `p`, the image without its digest split at its first `/`.
_LABEL = "[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_DOMAIN = f"{_LABEL}(?:\\.{_LABEL})+(?::[0-9]+)?|{_LABEL}:[0-9]+"
_HUB_FIRST = "[a-z0-9]+(?:(?:_|__|[-]+)[a-z0-9]+)*"
_TAIL = "(?::[0-9A-Za-z_][0-9A-Za-z_.-]*)?(?:@sha256:[a-f0-9]{64})?"
_COMPONENT = ref._PATH_COMPONENT
_PLAIN = (
    f"^(?:(?:{_DOMAIN})/{_COMPONENT}(?:/{_COMPONENT})*|{_HUB_FIRST}(?:/{_COMPONENT})+|"
    f"{_COMPONENT}){_TAIL}$"
)
_IS_PLAIN = (
    f"(img.size() < 128 && !img.startsWith('localhost/') && img.matches({_quote(_PLAIN)}) && "
    "(img.size() != 64 || !img.matches('^[a-f0-9]{64}$')))"
)
_PLAIN_TARGET = (
    "[img.split('@')[0].split('/', 2)].map(p, p.size() == 1 ? "
    "['docker.io', '', '/library/' + p[0].split(':')[0], 'y', 'docker.io'] : "
    "p[0] == 'docker.io' || p[0] == 'index.docker.io' ? "
    "['docker.io', '', (p[1].contains('/') ? '/' : '/library/') + p[1].split(':')[0], 'y', "
    "'docker.io'] : "
    "p[0].contains('.') || p[0].contains(':') ? [p[0].split(':')[0], "
    "p[0].contains(':') ? p[0].split(':')[1] : '', '/' + p[1].split(':')[0], '', p[0]] : "
    "['docker.io', '', '/' + p[0] + '/' + p[1].split(':')[0], 'y', 'docker.io'])"
)


# Whether target `t`'s host matches glob key `k`: by its suffix and label count when it has them.
_GLOB_HOST = (
    "(k.labels > 0 ? t[0].endsWith(k.suffix) && t[0].split('.').size() == k.labels : "
    "t[0].matches(k.host))"
)


def _serves(index: str) -> str:
    """Some key of `index` (a `compile.EntryIndex`) serves target `t` directly, or it has a
    Docker Hub key and `t` is a Docker Hub image (the fallback only matters when no key matched
    directly)."""
    return (
        f"((t[0] in {index}.exact && {index}.exact[t[0]].exists(k, {_KEY_FITS})) || "
        f"{index}.globs.exists(k, {_KEY_FITS} && {_GLOB_HOST}) || ({index}.hub && t[3] == 'y'))"
    )


_LISTED = (
    "(has(object.spec.imagePullSecrets) ? "
    "object.spec.imagePullSecrets.map(s, has(s.name) ? s.name : '') : [])"
)


def _targets(images: str) -> str:
    """The keyring targets of `images`' valid references, in image order: an image of a common
    shape (`_PLAIN`) read straight from the string, any other through every step of
    `parse_image` and `target_of` (`_full`, `_references`, `_exact_targets`) over a list of that
    one image."""
    plain, exact = _IS_PLAIN, _exact_targets(_references(_full("[img]")))
    return f"{images}.map(img, {plain} ? {_PLAIN_TARGET} : {exact}).flatten()"


def _parsed() -> list[tuple[str, str]]:
    return [("images", _images()), ("targets", _targets("variables.images"))]


def _named(steps: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "expression": expression} for name, expression in steps]


_KEY_FITS = "k.port == t[1] && t[2].startsWith(k.path)"


def variables(entries: str, indexes: str) -> list[dict[str, str]]:
    """The mutating policy's variables: `entries` the CEL list of the entries in scope, `indexes`
    the list of their `compile.EntryIndex` (one per entry list).

    `served`, per target, the names of the entries whose keys serve it directly: the target's
    host looked up among each index's exact hosts, its glob hosts matched in turn. An entry is
    added when it serves a target directly, or has a Docker Hub key and some Docker Hub target
    has no direct match (`hubOnly`), in entry order; names are unique in a scope.
    """
    lookup = (
        f"(t[0] in x.exact ? x.exact[t[0]].filter(k, {_KEY_FITS}).map(k, k.name) : []) + "
        f"x.globs.filter(k, {_KEY_FITS} && {_GLOB_HOST}).map(k, k.name)"
    )
    served = f"variables.targets.map(t, ({indexes}).map(x, {lookup}).flatten())"
    hub_only = "variables.targets.exists(i, t, t[3] == 'y' && variables.served[i].size() == 0)"
    added = (
        "variables.entries.filter(e, e.name in variables.servedNames || "
        "(variables.hubOnly && e.hub))"
        ".map(e, e.name).filter(n, !(n in variables.listed))"
    )
    return _named(
        [
            ("entries", entries),
            *_parsed(),
            ("served", served),
            ("servedNames", "variables.served.flatten()"),
            ("hubOnly", hub_only),
            ("listed", _LISTED),
            ("added", added),
        ]
    )


_COVERED = "request.namespace in params.spec.covered"
# Whether a covered namespace's keys in scope serve target `t`.
_SERVED_IN_COVERED = (
    "(request.namespace in params.spec.scopes && "
    f"{_serves('params.spec.scopes[request.namespace]')})"
)
# Whether the keys of the project listed for the namespace, or the cluster's, serve `t`.
_PROJECT = "params.spec.projectOf[request.namespace]"
_SERVED_IN_PROJECT = (
    f"(({_PROJECT} in params.spec.projectsIndex && "
    f"{_serves(f'params.spec.projectsIndex[{_PROJECT}]')}) || "
    f"{_serves('params.spec.clusterIndex')})"
)


def _starts_with_one_of(prefixes: str) -> str:
    """Whether some container's image starts with one of `prefixes` (a CEL list of strings).

    It walks the containers itself rather than reading `_images()`: building that list cost a
    pod create ~0.1 ms more in the project namespace of `bench/realcluster.py cost` (two runs),
    on a path whose point is to be cheap."""
    each = "object.spec.{0}.exists(c, has(c.image) && {1}.exists(p, c.image.startsWith(p)))"
    return " || ".join(
        f"(has(object.spec.{field}) && {each.format(field, prefixes)})"
        for field in ("initContainers", "containers")
    )


def _may_warn(field: str, key: str) -> str:
    """Whether a pod may get a warning by the scope's `gaps` entry (`field[key]`, a list of
    image prefixes): when the scope has none listed, it may."""
    listed = f"params.spec.{field}"
    return f"(!(has({listed}) && {key} in {listed}) || {_starts_with_one_of(f'{listed}[{key}]')})"


_MAY_WARN_IN_PROJECT = (
    f"({_PROJECT} == '' ? (!has(params.spec.clusterGaps) || "
    f"{_starts_with_one_of('params.spec.clusterGaps')}) : "
    f"{_may_warn('projectGaps', _PROJECT)})"
)


def warning_condition() -> str:
    """The warnings policy's match condition: false where it could warn of nothing.

    Not in a `quiet` namespace, and otherwise only when some image is served somewhere in the
    cluster and not in scope (`warning_variables`' `unserved`), the scope read from the shared
    object alone: a covered namespace's `scopes`, else its project as `projectOf` lists it and
    the cluster's keys. Before any image is parsed, the scope's `gaps` (`gaps.Gaps`) rule out
    the pods none of whose images starts with a prefix where a warning can arise: a few string
    comparisons per image. A namespace not listed yet (new, or past the bound) holds: its scope
    comes from `namespaceObject`, which a match condition cannot read. A false condition stops
    the policy after one conversion of the pod, before its validations and messages convert it
    twice more and parse its images twice (docs/performance.md, section 7).
    """
    anywhere = _serves("params.spec.anywhere")
    targets = _targets(f"({_images()})")
    return (
        "!(request.namespace in params.spec.quiet) && "
        f"({_COVERED} ? {_may_warn('gaps', 'request.namespace')} && "
        f"{targets}.exists(t, {anywhere} && !{_SERVED_IN_COVERED}) : "
        f"request.namespace in params.spec.projectOf ? {_MAY_WARN_IN_PROJECT} && "
        f"{targets}.exists(t, {anywhere} && !{_SERVED_IN_PROJECT}) : true)"
    )


def warning_variables(indexes: str) -> list[dict[str, str]]:
    """The warning policy's variables, over the shared object: `registries`, in image order,
    once each, of the images that nothing in scope serves and some key in the cluster
    (`params.spec.anywhere`) does.

    In scope: a covered namespace's keys (`params.spec.scopes`), else `indexes` (its project's
    and the cluster's, as the shared mutating policy reads them).
    """
    served = f"({_COVERED} ? {_SERVED_IN_COVERED} : ({indexes}).exists(x, {_serves('x')}))"
    unserved = (
        f"variables.targets.filter(t, !{served} && {_serves('params.spec.anywhere')}).map(t, t[4])"
    )
    earlier = "variables.unserved.exists(j, o, j < i && o == r)"
    once = f"variables.unserved.transformList(i, r, !{earlier}, r)"
    return _named([*_parsed(), ("unserved", unserved), ("registries", once)])


def warnings(count: int) -> list[dict[str, str]]:
    """One validation per warning, the webhook's text: a policy cannot return a list of them."""
    out = []
    for i in range(count):
        text = (
            f"('pullpass: ' + variables.registries[{i}] + "
            "' has a registry credential in the cluster, none in scope here')"
        )
        cut = WARNING_LIMIT - 3
        out.append(
            {
                "expression": f"variables.registries.size() <= {i}",
                "messageExpression": (
                    f"{text}.size() <= {WARNING_LIMIT} ? {text} : "
                    f"{text}.substring(0, {cut}) + '...'"
                ),
            }
        )
    return out


def json_patch() -> str:
    """Append the added names, creating the list when absent, and record them."""
    key = labels.INJECTED
    escaped = "/metadata/annotations/" + key.replace("~", "~0").replace("/", "~1")
    earlier = (
        f"(has(object.metadata.annotations) && {_quote(key)} in object.metadata.annotations ? "
        f"object.metadata.annotations[{_quote(key)}].split(',').filter(x, x != '') : [])"
    )
    secrets = (
        "(has(object.spec.imagePullSecrets) ? variables.added.map(n, JSONPatch{op: 'add', "
        "path: '/spec/imagePullSecrets/-', value: {'name': n}}) : [JSONPatch{op: 'add', "
        "path: '/spec/imagePullSecrets', value: variables.added.map(n, {'name': n})}])"
    )
    annotation = (
        f"(has(object.metadata.annotations) ? [JSONPatch{{op: 'add', path: {_quote(escaped)}, "
        f"value: ({earlier} + variables.added).join(',')}}] : [JSONPatch{{op: 'add', "
        f"path: '/metadata/annotations', value: {{{_quote(key)}: variables.added.join(',')}}}}])"
    )
    return f"variables.added.size() == 0 ? [] : {secrets} + {annotation}"
