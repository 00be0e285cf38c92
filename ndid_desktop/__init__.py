"""NDID Desktop: find the files in a photo library that are really the same picture."""

__version__ = "0.1.0"
