"""The evaluate service (not built yet; see the issues)."""
