"""People and API tokens, for admins (being written)."""
