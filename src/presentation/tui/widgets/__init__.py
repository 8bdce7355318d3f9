"""Widgets of the TUI; each draws what the app hands it and posts messages upwards."""
