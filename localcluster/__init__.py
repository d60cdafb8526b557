"""The local cluster behind `make demo`, the end-to-end suites and the benchmarks.

Product tooling, not part of the shipped package: it builds pinned binaries (`build`), starts
them as processes that die with their parent (`processes`), gives them certificates and
kubeconfigs (`certificates`, `kubeconfig`), runs a control plane (`control_plane`), drives it
with kubectl as a user would (`kubectl`), and runs pullpass as its webhook (`webhook`).
"""
