"""The places connector against a fake Nominatim speaking its documented jsonv2 output."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from agents import function_tool

from src.connectors import places
from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.places import CONNECTOR, RequestSpacer, short_address

USER_AGENT = "Hark/test (desktop assistant)"
LICENCE = "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright"

EIFFEL = {
    "place_id": 88066702,
    "licence": LICENCE,
    "osm_type": "way",
    "osm_id": 5013364,
    "lat": "48.8582599",
    "lon": "2.2945006",
    "category": "man_made",
    "type": "tower",
    "place_rank": 30,
    "importance": 0.62,
    "addresstype": "man_made",
    "name": "Eiffel Tower",
    "display_name": "Eiffel Tower, 5, Avenue Anatole France, Quartier du Gros-Caillou, "
    "Paris 7e Arrondissement, Paris, Île-de-France, France métropolitaine, 75007, France",
    "address": {
        "man_made": "Eiffel Tower",
        "house_number": "5",
        "road": "Avenue Anatole France",
        "city_block": "Quartier du Gros-Caillou",
        "suburb": "Paris 7e Arrondissement",
        "city": "Paris",
        "state": "Île-de-France",
        "postcode": "75007",
        "country": "France",
        "country_code": "fr",
    },
    "boundingbox": ["48.8574753", "48.8590453", "2.2933119", "2.2956897"],
}
PHARMACY = {
    "place_id": 1234,
    "licence": LICENCE,
    "osm_type": "node",
    "osm_id": 987654,
    "lat": "51.5390",
    "lon": "-0.1426",
    "category": "amenity",
    "type": "pharmacy",
    "place_rank": 30,
    "importance": 0.0001,
    "addresstype": "amenity",
    "name": "Camden Pharmacy",
    "display_name": "Camden Pharmacy, 12, Camden High Street, Camden Town, London, England, "
    "NW1 0JH, United Kingdom",
    "address": {
        "amenity": "Camden Pharmacy",
        "house_number": "12",
        "road": "Camden High Street",
        "suburb": "Camden Town",
        "city": "London",
        "state": "England",
        "postcode": "NW1 0JH",
        "country": "United Kingdom",
        "country_code": "gb",
    },
    "boundingbox": ["51.5389", "51.5391", "-0.1427", "-0.1425"],
}
CAMDEN_AREA = {
    "place_id": 555,
    "licence": LICENCE,
    "osm_type": "relation",
    "osm_id": 51781,
    "lat": "51.5423",
    "lon": "-0.1396",
    "category": "boundary",
    "type": "administrative",
    "place_rank": 12,
    "importance": 0.5,
    "addresstype": "borough",
    "name": "London Borough of Camden",
    "display_name": "London Borough of Camden, London, Greater London, England, United Kingdom",
    "boundingbox": ["51.5128", "51.5730", "-0.2135", "-0.1053"],
}

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def no_spacing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests don't wait between requests; RequestSpacer itself is tested with a fake clock."""
    monkeypatch.setattr(places, "MIN_REQUEST_INTERVAL", 0.0)


class FakeNominatim:
    """Answers /search: area lookups (limit=1) and searches from separate scripts."""

    def __init__(
        self,
        search: Handler | list[Any] | None = None,
        areas: dict[str, list[Any]] | None = None,
    ) -> None:
        self.search = search if search is not None else [EIFFEL]
        self.areas = areas or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        params = request.url.params
        if params.get("limit") == "1" and params.get("q") in self.areas:
            return httpx.Response(200, json=self.areas[params["q"]])
        if callable(self.search):
            return self.search(request)
        bounded = params.get("bounded") == "1"
        answer = [i for i in self.search if not bounded or i is not EIFFEL]
        return httpx.Response(200, json=answer)

    def params(self, index: int) -> dict[str, str]:
        return dict(self.requests[index].url.params)


def tools_for(fake: FakeNominatim, settings: Any = None, **ctx: Any) -> dict[str, ToolDef]:
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(fake), headers={"User-Agent": USER_AGENT}
    )
    context = ConnectorContext(http=http, settings=settings, **ctx)
    return {tool.name: tool for tool in CONNECTOR.build_tools(context)}


async def find(
    fake: FakeNominatim, query: str = "Eiffel Tower", settings: Any = None, **kw: Any
) -> str:
    return await tools_for(fake, settings)["find_places"].func(query=query, **kw)


# ---------------------------------------------------------------- happy paths


async def test_a_landmark_with_its_short_address() -> None:
    fake = FakeNominatim()

    said = await find(fake)

    assert said == (
        "Places matching “Eiffel Tower”:\n"
        "1. Eiffel Tower (tower), 5 Avenue Anatole France, Paris, France\n"
        "   at 48.85826, 2.29450: https://www.openstreetmap.org/way/5013364"
    )
    (request,) = fake.requests
    assert request.url.host == "nominatim.openstreetmap.org"
    assert request.url.path == "/search"
    assert dict(request.url.params) == {
        "q": "Eiffel Tower",
        "format": "jsonv2",
        "addressdetails": "1",
        "limit": "5",
    }
    assert request.headers["User-Agent"] == USER_AGENT


async def test_near_an_area_restricts_the_search_to_its_box() -> None:
    fake = FakeNominatim(search=[PHARMACY], areas={"Camden": [CAMDEN_AREA]})

    said = await find(fake, "pharmacy", near="Camden")

    assert said.splitlines()[:2] == [
        "Places matching “pharmacy” near Camden:",
        "1. Camden Pharmacy (pharmacy), 12 Camden High Street, London, United Kingdom",
    ]
    assert fake.params(0) == {"q": "Camden", "format": "jsonv2", "limit": "1"}
    assert fake.params(1)["viewbox"] == "-0.2135,51.573,-0.1053,51.5128"
    assert fake.params(1)["bounded"] == "1"


async def test_nothing_near_a_named_area() -> None:
    fake = FakeNominatim(search=[], areas={"Camden": [CAMDEN_AREA]})
    assert await find(fake, "ski lift", near="Camden") == "I couldn't find ski lift near Camden."
    assert len(fake.requests) == 2


async def test_an_unknown_named_area() -> None:
    fake = FakeNominatim(search=[], areas={"Atlantis": []})
    with pytest.raises(ConnectorError) as caught:
        await find(fake, "pharmacy", near="Atlantis")
    assert caught.value.message == "I couldn't find a place called Atlantis."


async def test_home_city_biases_then_falls_back_to_everywhere() -> None:
    fake = FakeNominatim(areas={"London": [CAMDEN_AREA]})
    settings = SimpleNamespace(home_city="London", language="en-GB")

    said = await find(fake, "Eiffel Tower", settings)

    assert said.startswith("Places matching “Eiffel Tower”:\n1. Eiffel Tower")
    assert [fake.params(i).get("bounded") for i in range(3)] == [None, "1", None]
    assert all(fake.params(i)["accept-language"] == "en-gb" for i in range(3))


async def test_the_home_city_box_is_looked_up_once() -> None:
    fake = FakeNominatim(search=[PHARMACY], areas={"London": [CAMDEN_AREA]})
    tools = tools_for(fake, SimpleNamespace(home_city="London"))

    await tools["find_places"].func(query="pharmacy")
    await tools["find_places"].func(query="pharmacy")

    assert [fake.params(i)["q"] for i in range(len(fake.requests))] == [
        "London",
        "pharmacy",
        "pharmacy",
    ]


async def test_nothing_anywhere() -> None:
    fake = FakeNominatim(search=[])
    assert await find(fake, "zzqx") == "I couldn't find any place matching zzqx."


async def test_empty_query_makes_no_request() -> None:
    fake = FakeNominatim()
    with pytest.raises(ConnectorError, match="I need the name or kind of place"):
        await find(fake, "  ")
    assert fake.requests == []


async def test_endpoint_override() -> None:
    fake = FakeNominatim()
    tools = tools_for(fake, endpoints={"nominatim": "http://127.0.0.1:8088/"})
    await tools["find_places"].func(query="x")
    assert str(fake.requests[0].url).startswith("http://127.0.0.1:8088/search?")


# ---------------------------------------------------------------- politeness


async def test_requests_are_spaced_a_second_apart() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    spacer = RequestSpacer(1.0, clock=lambda: now[0], sleep=sleep)
    await spacer.wait()
    now[0] += 0.25
    await spacer.wait()
    now[0] += 5.0
    await spacer.wait()

    assert slept == [0.75]


# ---------------------------------------------------------------- failures


@pytest.mark.parametrize("status", [401, 403])
async def test_refused(status: int) -> None:
    reply = httpx.Response(status, text="<html>Access blocked. See usage policy.</html>")
    with pytest.raises(ConnectorError) as caught:
        await find(FakeNominatim(search=lambda _r: reply))
    assert caught.value.message == (
        "OpenStreetMap's place search refused the request; "
        "its usage policy may be blocking this app for now."
    )


async def test_rate_limit() -> None:
    with pytest.raises(ConnectorError) as caught:
        await find(FakeNominatim(search=lambda _r: httpx.Response(429)))
    assert caught.value.message == (
        "OpenStreetMap's place search is rate-limiting requests; try again in a minute."
    )
    assert caught.value.retryable


async def test_bad_request_relays_the_documented_error() -> None:
    reply = httpx.Response(
        400, json={"error": {"code": 400, "message": "Parameter 'viewbox' has wrong format."}}
    )
    with pytest.raises(ConnectorError) as caught:
        await find(FakeNominatim(search=lambda _r: reply))
    assert caught.value.message == (
        "OpenStreetMap's place search couldn't do that: Parameter 'viewbox' has wrong format."
    )


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors(status: int) -> None:
    with pytest.raises(ConnectorError) as caught:
        await find(FakeNominatim(search=lambda _r: httpx.Response(status)))
    assert caught.value.message == (
        f"OpenStreetMap's place search is having trouble right now (HTTP {status})."
    )


async def test_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ConnectorError) as caught:
        await find(FakeNominatim(search=hang))
    assert caught.value.message == "OpenStreetMap's place search did not answer in time."


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html/>"),
        httpx.Response(200, json={"places": []}),
        httpx.Response(200, json=[{"name": "No coordinates"}]),
        httpx.Response(200, json=[{**EIFFEL, "lat": "north"}]),
        httpx.Response(200, json=["Paris"]),
    ],
    ids=["html", "object", "no-coordinates", "bad-number", "strings"],
)
async def test_malformed(reply: httpx.Response) -> None:
    with pytest.raises(ConnectorError) as caught:
        await find(FakeNominatim(search=lambda _r: reply))
    assert caught.value.message == "OpenStreetMap's place search sent results I couldn't read."


async def test_malformed_area_box() -> None:
    fake = FakeNominatim(areas={"Camden": [{**CAMDEN_AREA, "boundingbox": ["1", "2"]}]})
    with pytest.raises(ConnectorError, match="couldn't read"):
        await find(fake, "pharmacy", near="Camden")


# ---------------------------------------------------------------- helpers and wiring


def test_short_address_without_details_uses_the_display_name() -> None:
    item = {"display_name": "Big Ben, Bridge Street, Westminster, London, England, UK"}
    assert short_address(item) == "Bridge Street, Westminster, London"


def test_schema_progress_and_metadata() -> None:
    tools = tools_for(FakeNominatim())
    assert list(tools) == ["find_places"]
    schema = function_tool(tools["find_places"].func).params_json_schema
    assert sorted(schema["properties"]) == ["near", "query"]
    assert render_progress(tools["find_places"].progress, {"query": "pharmacy"}) == (
        "Looking up pharmacy on the map..."
    )
    assert CONNECTOR.requires_secrets == ()
    assert not tools["find_places"].side_effect
