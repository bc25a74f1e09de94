"""The label service (not built yet; see the issues)."""
