"""Embed: vectors (and detections) for every checked frame, through the shared inference backends;
frames.checked in, vectors in Qdrant, frames.embedded out."""
