"""Screens of the TUI: the conversation, and the ones pushed over it."""
