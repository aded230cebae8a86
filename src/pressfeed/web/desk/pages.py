"""The desk's pages for statements (being written)."""
