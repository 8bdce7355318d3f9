"""Settings: the effective settings (read-only) and the switches that change at run time.

The settings view is a plain mapping the composition root hands over, secrets already masked.
Turn-taking, mute and the audio devices are switched here; each change posts a message upwards
that the app turns into ``SetTurnDetection``, ``SetMuted`` or ``SelectAudioDevice``. The device
lists come from the ``devices.list`` query.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, ClassVar, Literal

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Select, Switch

from src.events.queries import QueryKind, QueryResult
from src.presentation.tui.messages import AudioDevicePicked, MuteSwitched, TurnDetectionPicked
from src.presentation.tui.widgets.voice_bar import TURN_DETECTION_LABELS

Ask = Callable[[QueryKind, Mapping[str, Any] | None], Awaitable[QueryResult]]
DeviceKind = Literal["input", "output"]
SYSTEM_DEFAULT = ""


def flatten(view: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """``{"api": {"model": "x"}}`` as ``("api.model", "x")`` rows."""
    for key, value in view.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            yield from flatten(value, name)
        elif value is None:
            yield name, ""
        elif isinstance(value, str):
            yield name, value
        else:
            yield name, json.dumps(value)


def device_names(data: Any, kind: DeviceKind) -> list[str]:
    """Device names of one direction from ``devices.list``: a list of device objects (with
    ``name`` and ``kind``) or an object with ``input`` and ``output`` lists."""
    if isinstance(data, Mapping):
        rows: list[Any] = list(data.get(kind, []))
    else:
        rows = [r for r in data or [] if not isinstance(r, Mapping) or r.get("kind") == kind]
    names = [str(r.get("name", "")) if isinstance(r, Mapping) else str(r) for r in rows]
    return list(dict.fromkeys(n for n in names if n))


class SettingsScreen(Screen[None]):
    """Run-time switches on top, every effective setting below."""

    AUTO_FOCUS = "#turn-detection"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(
        self,
        ask: Ask,
        settings_view: Mapping[str, Any],
        *,
        turn_detection: str,
        muted: bool,
        input_device: str = SYSTEM_DEFAULT,
        output_device: str = SYSTEM_DEFAULT,
    ) -> None:
        super().__init__()
        self._ask = ask
        self._view = settings_view
        self._current: dict[str, Any] = {
            "turn-detection": turn_detection,
            "input": input_device,
            "output": output_device,
        }
        self._muted = muted

    def compose(self) -> ComposeResult:
        modes = [(label, mode) for mode, label in TURN_DETECTION_LABELS.items()]
        mode = self._current["turn-detection"]
        with VerticalScroll(id="settings-body"):
            yield Label("Switches", classes="section")
            with Grid(id="switches"):
                yield Label("Turn-taking")
                yield Select(
                    modes,
                    value=mode if mode in TURN_DETECTION_LABELS else Select.NULL,
                    prompt="as configured",
                    id="turn-detection",
                )
                yield Label("Microphone muted")
                yield Switch(value=self._muted, id="mute")
                yield Label("Microphone")
                yield self._device_select("input")
                yield Label("Speaker")
                yield self._device_select("output")
            yield Label("Effective settings", classes="section")
            yield DataTable(id="settings-table", zebra_stripes=True, cursor_type="row")
        yield Footer()

    def _device_select(self, kind: DeviceKind) -> Select[str]:
        current = str(self._current[kind])
        options = [("System default", SYSTEM_DEFAULT)]
        if current:
            options.append((current, current))
        return Select(options, value=current, allow_blank=False, id=f"{kind}-device")

    def on_mount(self) -> None:
        table = self.query_one("#settings-table", DataTable)
        table.add_columns("Setting", "Value")
        for name, value in flatten(self._view):
            table.add_row(name, value)
        if not self._view:
            table.add_row("(not available)", "")
        self.load_devices()

    @work(exclusive=True, group="devices")
    async def load_devices(self) -> None:
        result = await self._ask("devices.list", None)
        if not result.ok:
            self.notify(f"Audio devices: {result.error}", severity="warning", markup=False)
            return
        kinds: tuple[DeviceKind, ...] = ("input", "output")
        for kind in kinds:
            select: Select[str] = self.query_one(f"#{kind}-device", Select)
            current = str(self._current[kind])
            names = device_names(result.data, kind)
            if current and current not in names:
                names.insert(0, current)
            # Filling the list is not the user's choice: no Changed message may escape it.
            with self.prevent(Select.Changed):
                select.set_options([("System default", SYSTEM_DEFAULT), *((n, n) for n in names)])
                select.value = current

    def on_select_changed(self, changed: Select.Changed) -> None:
        changed.stop()
        key = changed.select.id or ""
        value = changed.value
        if value is Select.NULL:
            return
        slot = key.removesuffix("-device")
        if self._current.get(slot) == value:
            return  # set by the screen itself, not a choice
        self._current[slot] = value
        if slot == "turn-detection":
            self.post_message(TurnDetectionPicked(str(value)))
        elif slot in ("input", "output"):
            self.post_message(AudioDevicePicked(slot, str(value)))  # type: ignore[arg-type]

    def on_switch_changed(self, changed: Switch.Changed) -> None:
        changed.stop()
        if changed.value != self._muted:
            self._muted = changed.value
            self.post_message(MuteSwitched(changed.value))
