"""The full-screen Textual front end: one more adapter on the event bus.

Import ``make_app`` from ``src.presentation.tui.app``. Nothing here imports a service or the
OpenAI and agents SDKs, so the first screen paints before anything heavy is loaded.
"""
