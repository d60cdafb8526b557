"""Every object the API server needs for policy mode: parameter CRD, policies, bindings (pure).

Two MutatingAdmissionPolicies share one CEL program (`cel`) and one parameter kind, and one
ValidatingAdmissionPolicy with the `Warn` action reads the shared object for the warnings (it
holds `anywhere`, every key in the cluster, and `scopes`, the keys in scope of each covered
namespace, so a key new to the cluster is one write; its match condition skips it in the
namespaces listed `quiet`, where every key of the cluster is in scope, and for the pods that no
image of could warn of, first by the images' prefixes (`gaps`), then from `scopes` or
`projectOf`, each namespace's project):
- `pullpass-shared` reads the one shared object (`pullpass-shared` in the credentials namespace),
  which holds the project rules keyed by project and the cluster rules, so the first pod of a
  brand-new namespace is served at once through `namespaceObject`'s project label, and the
  whole resolution of the namespaces the shared rules alone would get wrong (`covered`: they
  have namespace credentials or a name conflict) as `held`, up to a byte budget;
- `pullpass-namespace` reads the namespace's own parameter object (`pullpass` in the pod's
  namespace), written only for a covered namespace past that budget (and the credentials
  namespace, which the shared policy leaves out); elsewhere it finds no object and is skipped
  before any CEL runs.
So a pod is decided by one policy run wherever its namespace's rules fit the shared object; in a
covered namespace past the budget the shared policy adds nothing and the namespace's own adds the
names. Neither has a match condition: a condition converts the pod for CEL once more on every
pod create, which costs more than it saves here (docs/performance.md, section 7).
"""

from typing import Any

from app.core import labels
from app.core.policy import cel

GROUP = "pullpass.io"
VERSION = "v1alpha1"
KIND = "PullpassRules"
PLURAL = "pullpassrules"
NAMESPACE_OBJECT = "pullpass"
SHARED_OBJECT = "pullpass-shared"

# Bounds of the parameter schema: they keep the API server's CEL cost estimate finite.
MAX_ENTRIES = 128
MAX_KEYS = 32
MAX_PROJECTS = 256
MAX_COVERED = 10000
MAX_ANYWHERE = 256
MAX_WARNINGS = 8
# A scope's image prefixes where a warning can arise (`gaps`): past MAX_GAPS the scope has none
# listed and its pods are looked at in full; a prefix is cut to GAP_LENGTH (still a prefix).
MAX_GAPS = 16
GAP_LENGTH = 64
# The covered namespaces' resolutions the shared object holds (JSON bytes), and one namespace's
# share of it (~120 keys), so that one tenant's credentials cannot fill it; past them, objects of
# their own. They never take the shared spec past MAX_SHARED_BYTES: etcd stores an object of at
# most 1.5 MiB, metadata and managed fields included.
MAX_HELD_BYTES = 512 * 1024
MAX_HELD_NAMESPACE_BYTES = 16 * 1024
MAX_SHARED_BYTES = 1024 * 1024
NAME_LENGTH = 253
SCOPE_LENGTH = 320
HOST_LENGTH = 1024
PORT_LENGTH = 16
PATH_LENGTH = 512

_Object = dict[str, Any]


def _string(max_length: int) -> _Object:
    return {"type": "string", "maxLength": max_length}


# A key's label count: a host regex within HOST_LENGTH has fewer labels than characters.
_LABELS = {"type": "integer", "minimum": 0, "maximum": HOST_LENGTH}


def _index(keys: int = MAX_ENTRIES * MAX_KEYS) -> _Object:
    """`compile.EntryIndex` of at most `keys` keys (by default every key of an entry list)."""
    key = {
        "type": "object",
        "required": ["name", "host", "suffix", "labels", "port", "path"],
        "properties": {
            "name": _string(NAME_LENGTH),
            "host": _string(HOST_LENGTH),
            "suffix": _string(HOST_LENGTH),
            "labels": _LABELS,
            "port": _string(PORT_LENGTH),
            "path": _string(PATH_LENGTH),
        },
    }
    listed = {"type": "array", "maxItems": keys, "items": key}
    return {
        "type": "object",
        "required": ["exact", "globs", "hub"],
        "properties": {
            "exact": {"type": "object", "maxProperties": keys, "additionalProperties": listed},
            "globs": listed,
            "hub": {"type": "boolean"},
        },
    }


def _entries() -> _Object:
    entry = {
        "type": "object",
        "required": ["name", "scope", "hub"],
        "properties": {
            "name": _string(NAME_LENGTH),
            "scope": _string(SCOPE_LENGTH),
            "hub": {"type": "boolean"},
        },
    }
    return {"type": "array", "maxItems": MAX_ENTRIES, "items": entry}


def _prefixes() -> _Object:
    return {"type": "array", "maxItems": MAX_GAPS, "items": _string(GAP_LENGTH)}


def crd() -> _Object:
    spec = {
        "type": "object",
        "required": [
            *("credentials", "credentialsIndex", "projects", "projectsIndex"),
            *("cluster", "clusterIndex", "covered", "held", "anywhere", "scopes", "quiet"),
            "projectOf",
        ],
        "properties": {
            "credentials": _entries(),
            "credentialsIndex": _index(),
            "projectsIndex": {
                "type": "object",
                "maxProperties": MAX_PROJECTS,
                "additionalProperties": _index(),
            },
            "clusterIndex": _index(),
            "projects": {
                "type": "object",
                "maxProperties": MAX_PROJECTS,
                "additionalProperties": _entries(),
            },
            "cluster": _entries(),
            "covered": {
                "type": "object",
                "maxProperties": MAX_COVERED,
                "additionalProperties": {"type": "boolean"},
            },
            "held": {
                "type": "object",
                "maxProperties": MAX_COVERED,
                "additionalProperties": {
                    "type": "object",
                    "required": ["credentials", "credentialsIndex"],
                    "properties": {"credentials": _entries(), "credentialsIndex": _index()},
                },
            },
            "anywhere": _index(MAX_ANYWHERE),
            "scopes": {
                "type": "object",
                "maxProperties": MAX_COVERED,
                "additionalProperties": _index(MAX_ANYWHERE),
            },
            "quiet": {
                "type": "object",
                "maxProperties": MAX_COVERED,
                "additionalProperties": {"type": "boolean"},
            },
            "projectOf": {
                "type": "object",
                "maxProperties": MAX_COVERED,
                "additionalProperties": _string(NAME_LENGTH),
            },
            # Optional, so that objects written before them stay valid; absent, every pod is
            # looked at in full.
            "gaps": {
                "type": "object",
                "maxProperties": MAX_COVERED,
                "additionalProperties": _prefixes(),
            },
            "projectGaps": {
                "type": "object",
                "maxProperties": MAX_PROJECTS,
                "additionalProperties": _prefixes(),
            },
            "clusterGaps": _prefixes(),
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "plural": PLURAL,
                "singular": "pullpassrules",
                "listKind": KIND + "List",
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "required": ["spec"],
                            "properties": {"spec": spec},
                        }
                    },
                }
            ],
        },
    }


# The warnings policy is skipped where no image of the pod can get a warning (`cel.
# warning_condition`): a condition is one conversion of the pod, the validations three, and the
# image parsing twice (validations and messages each evaluate the variables afresh).
MAY_WARN = {"name": "may-warn", "expression": cel.warning_condition()}


def _shared(project_label: str, entries: bool, rancher: bool = False) -> str:
    """The shared policy's scope: a held namespace's whole resolution, nothing in another
    covered one, else the rules of its project through `namespaceObject`'s project (as
    `scope.project_of` finds it) and the cluster's; the entries in scope (`entries`), else the
    list of their indexes (`compile.EntryIndex`). Under `rancher` the project is the project
    part of Rancher's annotation, and the label counts only when it agrees."""
    label = cel._quote(project_label)
    has_label = (
        f"has(namespaceObject.metadata.labels) && {label} in namespaceObject.metadata.labels"
    )
    project = f"namespaceObject.metadata.labels[{label}]"
    trusted = has_label
    if rancher:
        key = cel._quote(labels.RANCHER_PROJECT)
        annotation = f"namespaceObject.metadata.annotations[{key}]"
        project = f"{annotation}.split(':')[1]"
        trusted = (
            f"has(namespaceObject.metadata.annotations) && {key} in "
            f"namespaceObject.metadata.annotations && {annotation}.matches('^[^:]+:[^:]+$') && "
            f"(!({has_label}) || namespaceObject.metadata.labels[{label}] == {project})"
        )
    known = f"{trusted} && {project} in params.spec.projects"
    if entries:
        lists = f"({known} ? params.spec.projects[{project}] : []) + params.spec.cluster"
    else:
        lists = (
            f"({known} ? [params.spec.projectsIndex[{project}]] : []) + [params.spec.clusterIndex]"
        )
    name = "namespaceObject.metadata.name"
    mine = f"params.spec.held[{name}]"
    mine = f"{mine}.credentials" if entries else f"[{mine}.credentialsIndex]"
    return f"{name} in params.spec.held ? {mine} : {name} in params.spec.covered ? [] : {lists}"


def _policy(kind: str, name: str, spec: _Object) -> _Object:
    """A policy of pod CREATEs in pullpass's parameter kind; it never refuses a pod."""
    rule = {
        "apiGroups": [""],
        "apiVersions": ["v1"],
        "operations": ["CREATE"],
        "resources": ["pods"],
    }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            "paramKind": {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND},
            "matchConstraints": {"resourceRules": [rule]},
            "failurePolicy": "Ignore",
            **spec,
        },
    }


def _mutating(name: str, entries: str, indexes: str) -> _Object:
    """No `matchConditions`: each would cost every pod create about a fifth of what the policy
    adds, even when it holds (the pod is converted for CEL again). A "could this pod get a
    name" condition would skip the patch pipeline (the pod encoded, patched, decoded, converted
    and defaulted) for pods that need nothing, but it holds for every pod whenever a glob or
    Docker Hub key is in scope; one skipping the shared policy in a covered namespace cost more
    than the shared object's `held` resolutions: docs/performance.md, section 7.

    `Never`: with `IfNeeded` the API server runs a policy again after its own patch, whatever
    follows it, at about the price of the first run; images a later mutating webhook adds are
    therefore not served in policy mode (README, differences from webhook mode).
    """
    return _policy(
        "MutatingAdmissionPolicy",
        name,
        {
            "reinvocationPolicy": "Never",
            "variables": cel.variables(entries, indexes),
            "mutations": [
                {"patchType": "JSONPatch", "jsonPatch": {"expression": cel.json_patch()}}
            ],
        },
    )


def _warning(name: str, indexes: str) -> _Object:
    return _policy(
        "ValidatingAdmissionPolicy",
        name,
        {
            "matchConditions": [MAY_WARN],
            "variables": cel.warning_variables(indexes),
            "validations": cel.warnings(MAX_WARNINGS),
        },
    )


def _binding(kind: str, policy: str, param: _Object, excluded: list[str]) -> _Object:
    expressions = [{"key": labels.INJECT, "operator": "In", "values": [labels.ENABLED]}]
    if excluded:
        expressions.append(
            {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": excluded}
        )
    warn = {"validationActions": ["Warn"]} if kind == "ValidatingAdmissionPolicy" else {}
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind + "Binding",
        "metadata": {"name": policy},
        "spec": {
            **warn,
            "policyName": policy,
            "paramRef": {**param, "parameterNotFoundAction": "Allow"},
            "matchResources": {
                "namespaceSelector": {"matchExpressions": expressions},
                "objectSelector": {
                    "matchExpressions": [
                        {"key": labels.INJECT, "operator": "NotIn", "values": [labels.DISABLED]}
                    ]
                },
            },
        },
    }


def manifests(
    credentials_namespace: str, project_label: str, warnings: bool = True, rancher: bool = False
) -> list[_Object]:
    """CRD, policies and bindings, in the order `kubectl apply` needs them; without `warnings`,
    no ValidatingAdmissionPolicy (what it costs a pod create: docs/performance.md section 7)."""
    own = {"name": NAMESPACE_OBJECT}
    shared = {"name": SHARED_OBJECT, "namespace": credentials_namespace}
    own_entries = "params.spec.credentials"
    shared_entries = _shared(project_label, True, rancher)
    own_indexes = "[params.spec.credentialsIndex]"
    shared_indexes = _shared(project_label, False, rancher)
    mutating, validating = "MutatingAdmissionPolicy", "ValidatingAdmissionPolicy"
    objects = [
        crd(),
        _mutating("pullpass-namespace", own_entries, own_indexes),
        _binding(mutating, "pullpass-namespace", own, []),
        _mutating("pullpass-shared", shared_entries, shared_indexes),
        _binding(mutating, "pullpass-shared", shared, [credentials_namespace]),
    ]
    if warnings:
        objects += [
            _warning("pullpass-warnings", shared_indexes),
            _binding(validating, "pullpass-warnings", shared, []),
        ]
    return objects


def parameter_object(namespace: str, name: str, spec: _Object) -> _Object:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {labels.MANAGED_BY: labels.PULLPASS},
        },
        "spec": spec,
    }
