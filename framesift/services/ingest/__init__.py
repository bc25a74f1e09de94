"""The ingest service: frames from cameras into the object store, announced on frames.ingested."""
