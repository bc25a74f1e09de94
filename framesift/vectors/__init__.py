"""Vectors: frames' vectors in Qdrant (a server by URL, or local mode)."""
