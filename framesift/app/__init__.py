"""The app: CLI, service registry and demo. The composition root; nothing imports it."""
