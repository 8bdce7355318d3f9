"""The location connector: settings first, an IP lookup only with consent, ipapi.co's JSON."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.location import CONNECTOR

LYON = {
    "ip": "203.0.113.45",
    "network": "203.0.113.0/24",
    "version": "IPv4",
    "city": "Lyon",
    "region": "Auvergne-Rhône-Alpes",
    "region_code": "ARA",
    "country": "FR",
    "country_name": "France",
    "country_code": "FR",
    "country_code_iso3": "FRA",
    "country_capital": "Paris",
    "country_tld": ".fr",
    "continent_code": "EU",
    "in_eu": True,
    "postal": "69001",
    "latitude": 45.7485,
    "longitude": 4.8467,
    "timezone": "Europe/Paris",
    "utc_offset": "+0100",
    "country_calling_code": "+33",
    "currency": "EUR",
    "currency_name": "Euro",
    "languages": "fr-FR,frp,br,co,ca,eu,oc",
    "country_area": 547030.0,
    "country_population": 66987244,
    "asn": "AS3215",
    "org": "Orange",
}

Handler = Callable[[httpx.Request], httpx.Response]


class FakeIpApi:
    def __init__(self, answer: Handler | None = None) -> None:
        self.answer = answer or (lambda _r: httpx.Response(200, json=LYON))
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)


def tool_for(fake: FakeIpApi, **settings: Any) -> ToolDef:
    ctx = ConnectorContext(
        http=httpx.AsyncClient(transport=httpx.MockTransport(fake)),
        settings=SimpleNamespace(**settings),
        endpoints=settings.pop("endpoints", {}),
    )
    (tool,) = CONNECTOR.build_tools(ctx)
    return tool


async def test_the_home_city_needs_no_request() -> None:
    fake = FakeIpApi()

    said = await tool_for(fake, home_city="Lyon", allow_ip_location=True).func()

    assert said == "You're in Lyon (your home city from settings)."
    assert fake.requests == []


async def test_without_consent_nothing_is_sent() -> None:
    fake = FakeIpApi()

    said = await tool_for(fake, home_city=None).func(current=True)

    assert said.startswith("I don't know where you are. Set home_city")
    assert "allow_ip_location = true" in said
    assert fake.requests == []


async def test_no_settings_at_all() -> None:
    fake = FakeIpApi()
    ctx = ConnectorContext(http=httpx.AsyncClient(transport=httpx.MockTransport(fake)))
    (tool,) = CONNECTOR.build_tools(ctx)

    assert (await tool.func()).startswith("I don't know where you are.")
    assert fake.requests == []


async def test_current_location_without_consent_keeps_the_home_city() -> None:
    fake = FakeIpApi()

    said = await tool_for(fake, home_city="Lyon").func(current=True)

    assert said.startswith("You're in Lyon (your home city from settings). I can't check")
    assert fake.requests == []


async def test_ip_lookup_with_consent() -> None:
    fake = FakeIpApi()

    said = await tool_for(fake, allow_ip_location=True).func()

    assert said == (
        "Judging by your internet connection, you're around Lyon, Auvergne-Rhône-Alpes, "
        "France (time zone Europe/Paris). That's a rough guess: it's where your provider's "
        "network is, and a VPN changes it."
    )
    (request,) = fake.requests
    assert str(request.url) == "https://ipapi.co/json/"
    assert request.method == "GET"


async def test_current_location_with_consent_mentions_home() -> None:
    said = await tool_for(FakeIpApi(), home_city="Paris", allow_ip_location=True).func(current=True)

    assert said.startswith("Judging by your internet connection, you're around Lyon")
    assert said.endswith("Your home city in settings is Paris.")


async def test_endpoint_override() -> None:
    fake = FakeIpApi()

    await tool_for(fake, allow_ip_location=True, endpoints={"ipapi": "http://127.0.0.1:9/"}).func()

    assert str(fake.requests[0].url) == "http://127.0.0.1:9/json/"


# ---------------------------------------------------------------- failures


async def test_rate_limited() -> None:
    body = {
        "error": True,
        "reason": "RateLimited",
        "message": "Visit https://ipapi.co/ratelimited/",
    }
    fake = FakeIpApi(lambda _r: httpx.Response(429, json=body))

    with pytest.raises(ConnectorError) as caught:
        await tool_for(fake, allow_ip_location=True).func()

    assert caught.value.message == (
        "The IP location service is rate-limiting requests; try again later."
    )
    assert caught.value.retryable


async def test_reserved_address() -> None:
    body = {"ip": "10.0.0.5", "error": True, "reason": "Reserved IP Address", "reserved": True}
    fake = FakeIpApi(lambda _r: httpx.Response(200, json=body))

    with pytest.raises(ConnectorError) as caught:
        await tool_for(fake, allow_ip_location=True).func()

    assert caught.value.message == (
        "Your internet address is a private one, so it says nothing about where you are."
    )


async def test_other_documented_error() -> None:
    body = {"error": True, "reason": "Invalid IP Address", "message": "..."}
    fake = FakeIpApi(lambda _r: httpx.Response(400, json=body))

    with pytest.raises(ConnectorError) as caught:
        await tool_for(fake, allow_ip_location=True).func()

    assert caught.value.message == "The IP location service couldn't place you: Invalid IP Address."


@pytest.mark.parametrize(
    ("status", "sentence"),
    [
        (403, "The IP location service refused the request (not authorised)."),
        (502, "The IP location service is having trouble right now (HTTP 502)."),
    ],
)
async def test_http_errors(status: int, sentence: str) -> None:
    fake = FakeIpApi(lambda _r: httpx.Response(status, text="<html>nope</html>"))

    with pytest.raises(ConnectorError) as caught:
        await tool_for(fake, allow_ip_location=True).func()

    assert caught.value.message == sentence


async def test_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ConnectorError, match=r"^The IP location service did not answer in time"):
        await tool_for(FakeIpApi(hang), allow_ip_location=True).func()


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="Lyon"),
        httpx.Response(200, json=["Lyon"]),
        httpx.Response(200, json={"ip": "203.0.113.45"}),
    ],
    ids=["text", "array", "no-place"],
)
async def test_malformed(reply: httpx.Response) -> None:
    with pytest.raises(ConnectorError) as caught:
        await tool_for(FakeIpApi(lambda _r: reply), allow_ip_location=True).func()

    assert caught.value.message == "The IP location service sent an answer I couldn't read."


def test_metadata() -> None:
    tool = tool_for(FakeIpApi())
    assert tool.name == "get_my_location"
    assert not tool.side_effect
    assert render_progress(tool.progress, {}) == "Working out where you are..."
    assert CONNECTOR.requires_secrets == ()
