"""The embed service (not built yet; see the issues)."""
