"""The local cluster behind `make demo`, the end-to-end suites and the benchmarks.

Product tooling, not part of the shipped package: it builds pinned binaries (`build`), starts
them as processes that die with their parent (`processes`), gives them certificates and
kubeconfigs (`certificates`, `kubeconfig`), runs a control plane (`control_plane`), drives it
with kubectl as a user would (`kubectl`), and runs pullpass as its webhook (`webhook`).

A real node (`node`) adds, inside a network namespace of its own (`netns`): containerd
(`containerd`), the kubelet (`kubelet`), kube-scheduler (`scheduler`), kube-proxy (`kube_proxy`)
(what these three share: `node_daemon`; their /healthz probe: `healthz`), the pod network (`cni`)
and a private registry (`registry`); pullpass is installed on it with its chart (`release`). Its
teardown puts back the kernel settings the kubelet changes (`kernel`) and removes what it leaves
on the host (`leftovers`).
"""
