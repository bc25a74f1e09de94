"""The platform: picks concrete adapters from settings and hosts services in a process (runner, embedded pipeline)."""
