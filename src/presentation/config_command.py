"""``hark config show``: the effective settings, with every secret masked."""

from __future__ import annotations

import json
from typing import Any, TextIO


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value and prefix.count(".") < 1:
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else key, inner, out)
    else:
        out[prefix] = value


def config_show(
    settings: Any, key_source: str | None, config_file: str, out: TextIO, as_json: bool = False
) -> int:
    data = settings.model_dump(mode="json")
    data["api"]["key"] = f"set ({key_source}) ********" if key_source else "not set"
    if as_json:
        out.write(json.dumps(data, indent=2) + "\n")
        return 0
    flat: dict[str, Any] = {}
    _flatten("", data, flat)
    out.write(f"# config file: {config_file}\n")
    width = max(len(k) for k in flat)
    for key, value in flat.items():
        shown = "" if value is None else value
        if isinstance(shown, dict):
            shown = json.dumps(shown)
        out.write(f"{key:<{width}}  {shown}\n")
    return 0
