"""The curate service (not built yet; see the issues)."""
