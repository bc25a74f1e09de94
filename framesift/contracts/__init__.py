"""The contracts: generated protos' topics, codec, and the one vocabulary."""
