"""framesift: from raw camera frame streams to a small, clean set of images worth labelling."""

__version__ = "0.1.0"
