"""Every user action of the TUI in one table: key bindings, the help screen and the command
palette are all built from it, so they cannot drift apart.

Key choices, for terminals: there are no key-up events, so push-to-talk is a toggle (press to
start talking, press again to send). F1 is taken by some desktop terminals (GNOME Terminal's
help), so every follow-up key has an Alt+digit twin. Ctrl+K, Ctrl+U, Ctrl+W, Ctrl+A and Ctrl+E
edit the prompt line, so screens sit on Ctrl+R, Ctrl+O, Ctrl+S and Ctrl+G (nano's "get help").
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class ActionSpec:
    """One action: what runs, how it is named, which keys trigger it."""

    action: str
    """Textual action string run on the app, e.g. ``"follow_up(0)"``."""
    title: str
    """Name in the command palette, the help screen and the footer."""
    help: str
    """One sentence on what it does."""
    keys: str
    """Textual key names, comma-separated, bound on the app; empty for palette-only actions
    (or actions whose keys a single screen binds, like connecting on the keys screen)."""
    shown_keys: str
    """How the keys are written for people."""
    footer: str = ""
    """Short footer label; empty keeps the binding out of the footer."""


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(
        "cancel_turn",
        "Stop the answer",
        "Stop the answer in progress; the conversation is kept.",
        "escape",
        "Esc / Ctrl+C",
        "Stop",
    ),
    ActionSpec(
        "follow_up(0)",
        "Ask suggestion 1",
        "Ask the first suggested follow-up.",
        "f1,alt+1",
        "F1 / Alt+1",
    ),
    ActionSpec(
        "follow_up(1)",
        "Ask suggestion 2",
        "Ask the second suggested follow-up.",
        "f2,alt+2",
        "F2 / Alt+2",
    ),
    ActionSpec(
        "follow_up(2)",
        "Ask suggestion 3",
        "Ask the third suggested follow-up.",
        "f3,alt+3",
        "F3 / Alt+3",
    ),
    ActionSpec(
        "push_to_talk",
        "Push to talk",
        "Press to start talking, press again to send (terminals report no key release).",
        "f5,ctrl+space",
        "F5 / Ctrl+Space",
        "Talk",
    ),
    ActionSpec(
        "toggle_mute",
        "Mute or unmute the microphone",
        "Nothing you say is sent while muted.",
        "f6",
        "F6",
    ),
    ActionSpec(
        "next_turn_detection",
        "Next turn-taking mode",
        "Cycle server VAD, semantic VAD, local VAD and push-to-talk.",
        "f7",
        "F7",
    ),
    ActionSpec(
        "new_conversation",
        "New conversation",
        "Start afresh; the current conversation stays in history.",
        "ctrl+n",
        "Ctrl+N",
    ),
    ActionSpec(
        "open_history",
        "History",
        "Browse, search and resume past conversations.",
        "ctrl+r",
        "Ctrl+R",
        "History",
    ),
    ActionSpec(
        "open_keys",
        "Keys and connections",
        "Add or delete keys (the OpenAI one first); connect and disconnect connectors.",
        "ctrl+o",
        "Ctrl+O",
    ),
    ActionSpec(
        "on_keys_screen('connect_selected')",
        "Connect the selected connector",
        "On keys and connections: type its keys, or sign in with the browser.",
        "",
        "c (keys screen)",
    ),
    ActionSpec(
        "on_keys_screen('disconnect_selected')",
        "Disconnect the selected connector",
        "On keys and connections: delete its keys or sign-in, after a y/n.",
        "",
        "d (keys screen)",
    ),
    ActionSpec(
        "on_keys_screen('delete_selected_key')",
        "Delete the selected stored key",
        "On keys and connections: forget that key, after a y/n.",
        "",
        "Delete / x (keys screen)",
    ),
    ActionSpec(
        "open_settings",
        "Settings and devices",
        "Effective settings; switch turn-taking, microphone and speaker.",
        "ctrl+s",
        "Ctrl+S",
        "Settings",
    ),
    ActionSpec(
        "toggle_theme", "Light or dark theme", "Switch between light and dark.", "ctrl+t", "Ctrl+T"
    ),
    ActionSpec(
        "open_help", "Help: keys", "Every key binding and what it does.", "ctrl+g", "Ctrl+G", "Help"
    ),
    ActionSpec(
        "quit", "Quit", "Leave Hark; everything said so far is stored.", "ctrl+q", "Ctrl+Q", "Quit"
    ),
)

CTRL_C = ActionSpec(
    "interrupt",
    "Stop the answer (Ctrl+C)",
    "Copies selected text; otherwise stops the answer, or says how to quit.",
    "ctrl+c",
    "Ctrl+C",
)
"""Ctrl+C is bound apart: it must not appear twice in the palette next to Esc."""

OTHER_KEYS: tuple[tuple[str, str], ...] = (
    ("Enter", "Send what you typed (always available, also while Hark answers)."),
    ("Ctrl+P", "Command palette: every action above by name."),
    ("y / n / a", "In an approval: approve, reject, always allow this tool."),
    ("Enter / r", "In history: show the conversation / resume it."),
    ("Esc", "On any other screen: go back to the conversation."),
)
"""Keys that belong to one screen or to Textual itself, listed on the help screen."""


def app_bindings() -> list[Binding]:
    """The app's bindings, from the table."""
    bindings = [
        Binding(spec.keys, spec.action, spec.footer or spec.title, show=bool(spec.footer))
        for spec in (*ACTIONS, CTRL_C)
        if spec.keys
    ]
    return bindings
