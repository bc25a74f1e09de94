"""Runtime leaves every part shares: settings, metrics, logs, retry policy, health."""
