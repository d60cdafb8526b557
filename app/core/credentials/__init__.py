"""Registry credentials, their scopes, and the per-namespace match tables built from them."""
