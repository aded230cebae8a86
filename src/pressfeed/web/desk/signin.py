"""Signing in and out of the desk (being written)."""
