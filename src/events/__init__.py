"""Typed events and the async bus every part of Hark talks through."""
