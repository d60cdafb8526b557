"""The HTTP side: the webhook and health apps, the hardened HTTP protocol, and reloading TLS."""
