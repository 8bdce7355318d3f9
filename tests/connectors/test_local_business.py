"""The local business connector against a fake Yelp Fusion API speaking its documented JSON."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.local_business import CONNECTOR

HOST = "api.yelp.com"


def business(
    biz_id: str,
    name: str,
    rating: float,
    reviews: int,
    price: str | None,
    open_now: bool | None,
    address: list[str],
    categories: list[tuple[str, str]],
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": biz_id,
        "alias": name.lower().replace(" ", "-") + "-seattle",
        "name": name,
        "image_url": "https://s3-media2.fl.yelpcdn.com/bphoto/x/o.jpg",
        "is_closed": False,
        "url": f"https://www.yelp.com/biz/{biz_id}",
        "review_count": reviews,
        "categories": [{"alias": a, "title": t} for a, t in categories],
        "rating": rating,
        "coordinates": {"latitude": 47.6145, "longitude": -122.3206},
        "transactions": ["pickup", "delivery"],
        "location": {
            "address1": address[0],
            "address2": "",
            "address3": None,
            "city": "Seattle",
            "zip_code": "98122",
            "country": "US",
            "state": "WA",
            "display_address": address,
        },
        "phone": "+12063294453",
        "display_phone": "(206) 329-4453",
        "distance": 1503.2,
    }
    if price:
        item["price"] = price
    if open_now is not None:
        item["business_hours"] = [
            {
                "open": [{"is_overnight": False, "start": "1100", "end": "2200", "day": 0}],
                "hours_type": "REGULAR",
                "is_open_now": open_now,
            }
        ]
    return item


RAMEN: dict[str, Any] = {
    "businesses": [
        business(
            "WavvLdfdP6g8aZTtbBQHTw",
            "Ooink",
            4.5,
            2120,
            "$$",
            True,
            ["1416 Harvard Ave", "Seattle, WA 98122"],
            [("ramen", "Ramen")],
        ),
        business(
            "ZnrXd1VjvzYgFHvNeDw6Tw",
            "Betsutenjin Ramen",
            4.0,
            812,
            None,
            False,
            ["1118 E Pike St", "Seattle, WA 98122"],
            [("ramen", "Ramen"), ("izakaya", "Izakaya")],
        ),
        {
            **business("closedforgoodXYZ", "Old Noodle", 3.5, 40, "$", None, ["1 Pine St"], []),
            "is_closed": True,
        },
    ],
    "total": 143,
    "region": {"center": {"longitude": -122.33, "latitude": 47.61}},
}

REVIEWS = {
    "reviews": [
        {
            "id": "rev1",
            "url": "https://www.yelp.com/biz/ooink?hrid=rev1",
            "text": "The spicy miso ramen is rich and   the noodles are springy. Worth the wait "
            "in line, which moves quickly on weekdays.",
            "rating": 5,
            "time_created": "2026-10-02 18:14:01",
            "user": {
                "id": "u1",
                "profile_url": "https://www.yelp.com/user_details?userid=u1",
                "image_url": None,
                "name": "Maya T.",
            },
        },
        {
            "id": "rev2",
            "url": "https://www.yelp.com/biz/ooink?hrid=rev2",
            "text": "Long wait. " + "Broth was good but salty " * 20,
            "rating": 3,
            "time_created": "2026-09-14 12:00:00",
            "user": {"id": "u2", "profile_url": "", "image_url": None, "name": "Jon B."},
        },
    ],
    "total": 2120,
    "possible_languages": ["en"],
}

Handler = Callable[[httpx.Request], httpx.Response]


class Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


class FakeYelp:
    def __init__(
        self,
        search: Handler | dict[str, Any] = RAMEN,
        reviews: Handler | dict[str, Any] = REVIEWS,
    ) -> None:
        self.search = search
        self.reviews = reviews
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.search if request.url.path.endswith("/search") else self.reviews
        if callable(answer):
            return answer(request)
        return httpx.Response(200, json=answer)


def tools_for(
    fake: FakeYelp, settings: Any = None, secrets: Secrets | None = None, **kw: Any
) -> dict[str, ToolDef]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    ctx = ConnectorContext(
        http=http,
        settings=settings if settings is not None else SimpleNamespace(home_city="Seattle"),
        secrets=secrets or Secrets({"yelp.api_key": "yelp-key"}),
        **kw,
    )
    return {tool.name: tool for tool in CONNECTOR.build_tools(ctx)}


async def search(fake: FakeYelp, **kw: Any) -> str:
    args: dict[str, Any] = {"what": "ramen"}
    args.update(kw)
    return await tools_for(fake)["search_local_businesses"].func(**args)


# ---------------------------------------------------------------- happy paths


async def test_search_in_the_home_city() -> None:
    fake = FakeYelp()

    said = await search(fake)

    assert said.splitlines() == [
        "Top ramen in Seattle on Yelp:",
        "Ooink, ramen, 4.5 stars from 2,120 reviews, moderately priced, open now, "
        "at 1416 Harvard Ave, Seattle, WA 98122.",
        "Betsutenjin Ramen, ramen and izakaya, 4 stars from 812 reviews, closed right now, "
        "at 1118 E Pike St, Seattle, WA 98122.",
    ]
    (request,) = fake.requests
    assert request.url.host == HOST
    assert request.url.path == "/v3/businesses/search"
    assert request.headers["authorization"] == "Bearer yelp-key"
    assert dict(request.url.params) == {
        "term": "ramen",
        "location": "Seattle",
        "limit": "3",
        "sort_by": "best_match",
    }


async def test_filters_are_sent() -> None:
    fake = FakeYelp()

    await search(fake, where="Capitol Hill, Seattle", open_now=True, sort_by="rating", count=50)

    params = fake.requests[0].url.params
    assert params["location"] == "Capitol Hill, Seattle"
    assert params["open_now"] == "true"
    assert params["sort_by"] == "rating"
    assert params["limit"] == "10"


async def test_unknown_sort_falls_back() -> None:
    fake = FakeYelp()

    await search(fake, sort_by="cheapest")

    assert fake.requests[0].url.params["sort_by"] == "best_match"


async def test_nothing_found() -> None:
    said = await search(FakeYelp(search={"businesses": [], "total": 0}), what="yak shaving")

    assert said == "I found no yak shaving in Seattle."


async def test_reviews_by_name() -> None:
    fake = FakeYelp()
    tool = tools_for(fake)["get_business_reviews"]

    said = await tool.func(business="Ooink")

    lines = said.splitlines()
    assert lines[0].startswith("Ooink, ramen, 4.5 stars")
    assert lines[1] == (
        "Maya (5 stars): The spicy miso ramen is rich and the noodles are springy. "
        "Worth the wait in line, which moves quickly on weekdays."
    )
    assert lines[2].startswith("Jon (3 stars): Long wait. Broth was good but salty")
    assert lines[2].endswith("…") and len(lines[2]) < 240
    search_request, reviews_request = fake.requests
    assert search_request.url.params["term"] == "Ooink"
    assert search_request.url.params["limit"] == "1"
    assert reviews_request.url.path == "/v3/businesses/WavvLdfdP6g8aZTtbBQHTw/reviews"
    assert reviews_request.headers["authorization"] == "Bearer yelp-key"


async def test_reviews_of_an_unknown_business() -> None:
    fake = FakeYelp(search={"businesses": [], "total": 0})

    said = await tools_for(fake)["get_business_reviews"].func(business="Nowhere Diner")

    assert said == "I couldn't find Nowhere Diner in Seattle on Yelp."
    assert len(fake.requests) == 1


# ---------------------------------------------------------------- input and keys


async def test_no_place_and_no_home_city() -> None:
    fake = FakeYelp()
    tool = tools_for(fake, settings=SimpleNamespace(home_city=None))["search_local_businesses"]

    with pytest.raises(ConnectorError, match=r"Which city or neighbourhood should I search\?"):
        await tool.func(what="tacos")
    assert fake.requests == []


async def test_missing_key() -> None:
    fake = FakeYelp()
    tool = tools_for(fake, secrets=Secrets({}))["search_local_businesses"]

    with pytest.raises(ConnectorError) as caught:
        await tool.func(what="tacos")

    assert caught.value.message == (
        "Connect Local businesses (Yelp) first: python main.py connect local_business"
    )
    assert fake.requests == []


# ---------------------------------------------------------------- failures


def yelp_error(status: int, code: str, description: str) -> Handler:
    body = {"error": {"code": code, "description": description}}
    return lambda _r: httpx.Response(status, json=body)


async def test_invalid_key() -> None:
    fake = FakeYelp(search=yelp_error(401, "TOKEN_INVALID", "Invalid access token or ..."))

    with pytest.raises(ConnectorError) as caught:
        await search(fake)

    assert caught.value.message == (
        "Yelp didn't accept your API key. Reconnect it: python main.py connect local_business"
    )


async def test_forbidden() -> None:
    fake = FakeYelp(search=yelp_error(403, "AUTHORIZATION_ERROR", "Authorization error"))

    with pytest.raises(ConnectorError, match="didn't accept your API key"):
        await search(fake)


async def test_location_not_found() -> None:
    fake = FakeYelp(
        search=yelp_error(400, "LOCATION_NOT_FOUND", "Could not execute search, try ...")
    )

    with pytest.raises(ConnectorError) as caught:
        await search(fake, where="Atlantis")

    assert caught.value.message == "Yelp couldn't find that place. Try a city or a full address."


async def test_validation_error_description() -> None:
    fake = FakeYelp(
        search=yelp_error(400, "VALIDATION_ERROR", "'banana' is not valid under any schema")
    )

    with pytest.raises(ConnectorError) as caught:
        await search(fake)

    assert caught.value.message == (
        "Yelp couldn't search that: 'banana' is not valid under any schema"
    )


async def test_per_second_rate_limit() -> None:
    fake = FakeYelp(
        search=yelp_error(429, "TOO_MANY_REQUESTS_PER_SECOND", "You have exceeded the QPS")
    )

    with pytest.raises(ConnectorError) as caught:
        await search(fake)

    assert caught.value.message == "Yelp is rate-limiting requests; try again in a minute."
    assert caught.value.retryable


async def test_daily_limit() -> None:
    fake = FakeYelp(search=yelp_error(429, "ACCESS_LIMIT_REACHED", "You've reached the limit"))

    with pytest.raises(ConnectorError) as caught:
        await search(fake)

    assert caught.value.message == (
        "Your Yelp key has used up its daily requests; it resets tomorrow."
    )


async def test_server_error() -> None:
    fake = FakeYelp(search=yelp_error(500, "INTERNAL_ERROR", "Something went wrong"))

    with pytest.raises(ConnectorError, match=r"^Yelp is having trouble right now \(HTTP 500\)\.$"):
        await search(fake)


async def test_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ConnectorError, match=r"^Yelp did not answer in time\.$"):
        await search(FakeYelp(search=hang))


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html/>"),
        httpx.Response(200, json=["x"]),
        httpx.Response(200, json={"total": 3}),
        httpx.Response(200, json={"businesses": [{"name": "No id"}]}),
        httpx.Response(200, json={"businesses": [{**RAMEN["businesses"][0], "rating": "good"}]}),
    ],
    ids=["html", "array", "no-list", "no-id", "bad-rating"],
)
async def test_malformed_search(reply: httpx.Response) -> None:
    with pytest.raises(ConnectorError) as caught:
        await search(FakeYelp(search=lambda _r: reply))

    assert caught.value.message == "Yelp sent results I couldn't read."


async def test_malformed_reviews() -> None:
    fake = FakeYelp(reviews={"reviews": [{"rating": 5}]})

    with pytest.raises(ConnectorError, match="couldn't read"):
        await tools_for(fake)["get_business_reviews"].func(business="Ooink")


def test_metadata() -> None:
    tools = tools_for(FakeYelp())
    assert sorted(tools) == ["get_business_reviews", "search_local_businesses"]
    assert render_progress(tools["search_local_businesses"].progress, {"what": "tacos"}) == (
        "Looking for tacos on Yelp..."
    )
    assert render_progress(tools["get_business_reviews"].progress, {"business": "Ooink"}) == (
        "Reading Yelp reviews of Ooink..."
    )
    assert CONNECTOR.requires_secrets == ("yelp.api_key",)
    assert not any(t.side_effect for t in tools.values())
