"""Hark: a voice-first assistant that runs on the user's own laptop."""

__version__ = "0.1.0"
