"""The quality service (not built yet; see the issues)."""
