"""Helpers shared by the test suites: real servers as processes, bounded waits."""
