"""The kube-scheduler extender: HTTP filter / prioritize / bind over a watch cache and the pure
scoring core."""
