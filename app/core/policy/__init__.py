"""Policy mode: the webhook's decisions compiled into parameters and CEL for the API server."""
