"""SQL: the engine and the versioned migrations runner."""
