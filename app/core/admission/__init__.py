"""The admission decision with its wire types: decode, read the pod, decide, patch, respond."""
