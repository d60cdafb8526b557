"""Image references and the kubelet's keyring: which registry keys serve an image.

Go-parity helpers (`go_url`, `go_glob`, `go_string`) emulate exactly the Go functions the
kubelet calls, because Python's urllib and fnmatch disagree with them at the edges.
"""
