"""Where the user is: their home city from settings, or, only with consent, a rough guess
from their internet address.

A laptop has no GPS. ``home_city`` is the user's own statement and always wins. An IP lookup
(ipapi.co's documented ``/json/`` endpoint) tells a third party the user's address and is
often wrong (it finds the provider's network, and a VPN moves it), so it runs only when the
user has set ``allow_ip_location``; without either, the answer says how to set them.
"""

from __future__ import annotations

from typing import Any

import httpx

from src.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorError,
    ToolDef,
    body_object,
    request_json,
)

NAME = "location"
SERVICE = "The IP location service"
DEFAULT_BASE_URL = "https://ipapi.co"
REQUEST_TIMEOUT = httpx.Timeout(8.0)

HOW_TO_SET = (
    'Set home_city (for example home_city = "Lyon") in the [connectors] section of your '
    "settings file (python main.py config path shows where it is), or allow a rough guess "
    "from your internet address with allow_ip_location = true there."
)


async def ip_location(http: httpx.AsyncClient, base_url: str) -> dict[str, Any]:
    """ipapi.co's answer for the caller's own address (documented fields: city, region,
    country_name, latitude, longitude, timezone; errors carry error/reason/message)."""
    body = await request_json(
        http,
        SERVICE,
        "GET",
        f"{base_url.rstrip('/')}/json/",
        headers={"Accept": "application/json"},
        timeout=REQUEST_TIMEOUT,
        check=_refusal,
    )
    if not (body.get("city") or body.get("country_name")):
        raise ConnectorError(f"{SERVICE} sent an answer I couldn't read.", retryable=True)
    return body


def _refusal(response: httpx.Response) -> ConnectorError | None:
    """ipapi.co's ``{"error": true, "reason": ...}``, which may come with any status."""
    body = body_object(response)
    reason = str(body.get("reason") or "") if body.get("error") else ""
    if reason == "RateLimited" or response.status_code == 429:
        return ConnectorError(
            f"{SERVICE} is rate-limiting requests; try again later.", retryable=True, status=429
        )
    if reason:
        if "reserved" in reason.lower():
            return ConnectorError(
                "Your internet address is a private one, so it says nothing about where you are."
            )
        return ConnectorError(f"{SERVICE} couldn't place you: {reason}.")
    return None


def describe_ip_location(body: dict[str, Any]) -> str:
    parts = [str(body[k]) for k in ("city", "region", "country_name") if body.get(k)]
    unique = [p for i, p in enumerate(parts) if p not in parts[:i]]
    place = ", ".join(unique)
    zone = f" (time zone {body['timezone']})" if body.get("timezone") else ""
    return (
        f"Judging by your internet connection, you're around {place}{zone}. That's a rough "
        "guess: it's where your provider's network is, and a VPN changes it."
    )


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    async def get_my_location(current: bool = False) -> str:
        """Find out which city the user is in, for "near me" and "here" questions.

        Args:
            current: True when the user asks where they are right now (for example while
                travelling), so a saved home city may be out of date.
        """
        home = str(getattr(ctx.settings, "home_city", None) or "").strip()
        allowed = bool(getattr(ctx.settings, "allow_ip_location", False))
        if home and not (current and allowed):
            text = f"You're in {home} (your home city from settings)."
            if current:
                text += (
                    " I can't check where you are right now unless you allow a rough guess "
                    "from your internet address: set allow_ip_location = true in the "
                    "[connectors] section of your settings."
                )
            return text
        if not allowed:
            return f"I don't know where you are. {HOW_TO_SET}"
        body = await ip_location(ctx.http, ctx.endpoint("ipapi", DEFAULT_BASE_URL))
        text = describe_ip_location(body)
        if home:
            text += f" Your home city in settings is {home}."
        return text

    return [ToolDef(get_my_location, progress="Working out where you are...")]


CONNECTOR = Connector(
    name=NAME,
    title="Your location",
    description=(
        "The user's current location, which city they're in: their home city from settings, "
        "or a rough guess from their IP address if they allowed it. Use it before 'near me' "
        "questions."
    ),
    instructions=(
        "You tell where the user is. Say the city plainly; mention that an internet-address "
        "guess is rough only if it matters. If the location isn't known, pass on how to set "
        "it in one sentence. If a tool reports a problem, say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=("Where am I?", "What city am I in right now?"),
    followups=("What's the weather here?",),
)
