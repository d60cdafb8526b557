"""The error for an object that is not shaped as pullpass reads it (pure).

Audit, repair and `explain` read Pods and workloads that come in no AdmissionReview, so their
errors name the object they read, not a review. Malformed input, never a bug: the server answers
400 and a command exits 2.
"""


class BadObject(ValueError):
    """`kind` names the object (its kind, with namespace/name where known), `problem` what is
    wrong in it; the message is both."""

    def __init__(self, kind: str, problem: str) -> None:
        super().__init__(f"{kind}: {problem}")
        self.kind = kind
        self.problem = problem
