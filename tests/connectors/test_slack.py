"""The Slack connector against a fake Slack Web API speaking its documented JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.slack import CONNECTOR

HOST = "slack.com"
NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
SETTINGS = SimpleNamespace(timezone="Europe/London", now=lambda: NOW)


def channel(cid: str, name: str, member: bool, private: bool = False) -> dict[str, Any]:
    return {
        "id": cid,
        "name": name,
        "is_channel": not private,
        "is_group": private,
        "is_im": False,
        "is_mpim": False,
        "is_private": private,
        "created": 1449252889,
        "is_archived": False,
        "is_general": name == "general",
        "unlinked": 0,
        "name_normalized": name,
        "is_shared": False,
        "is_org_shared": False,
        "is_pending_ext_shared": False,
        "pending_shared": [],
        "context_team_id": "T012AB3C4",
        "creator": "U012A3CDE",
        "is_ext_shared": False,
        "shared_team_ids": ["T012AB3C4"],
        "is_member": member,
        "topic": {"value": "", "creator": "", "last_set": 0},
        "purpose": {"value": "", "creator": "", "last_set": 0},
        "previous_names": [],
        "num_members": 4,
    }


PAGE_1 = {
    "ok": True,
    "channels": [
        channel("C012AB3CD", "general", True),
        channel("C061EG9T2", "random", False),
    ],
    "response_metadata": {"next_cursor": "dGVhbTpDMDYxRkE1UEI="},
}
PAGE_2 = {
    "ok": True,
    "channels": [channel("G0AKFJBEU", "standup", True, private=True)],
    "response_metadata": {"next_cursor": ""},
}

HISTORY = {
    "ok": True,
    "messages": [
        {
            "type": "message",
            "user": "U061F7AUR",
            "text": "Sure &amp; see <https://example.com/plan|the plan>, <@U012A3CDE>",
            "ts": "1795273200.000300",  # 2026-11-21 15:00 UTC
        },
        {
            "type": "message",
            "subtype": "bot_message",
            "username": "Deploy bot",
            "text": "Deployed <https://ci.example.com/42> to <#C012AB3CD|general>",
            "ts": "1795269600.000200",  # 14:00 UTC
            "bot_id": "B123",
        },
        {
            "type": "message",
            "user": "U012A3CDE",
            "text": "Lunch at noon? <!here>",
            "ts": "1795176000.000100",  # 2026-11-20 12:00 UTC
        },
    ],
    "has_more": True,
    "pin_count": 0,
    "response_metadata": {"next_cursor": "bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz"},
}

USERS = {
    "U012A3CDE": {"display_name": "ana", "real_name": "Ana Silva"},
    "U061F7AUR": {"display_name": "", "real_name": "Ben Okafor"},
}

Handler = Callable[[httpx.Request], httpx.Response]


class Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


class FakeSlack:
    """Routes by method name; ``overrides`` replace one method's answer."""

    def __init__(self, **overrides: Handler | dict[str, Any]) -> None:
        self.overrides = overrides
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        method = request.url.path.rsplit("/", 1)[-1]
        override = self.overrides.get(method.replace(".", "_"))
        if callable(override):
            return override(request)
        if override is not None:
            return httpx.Response(200, json=override)
        if method == "conversations.list":
            page = PAGE_2 if request.url.params.get("cursor") else PAGE_1
            return httpx.Response(200, json=page)
        if method == "conversations.history":
            return httpx.Response(200, json=HISTORY)
        if method == "users.info":
            uid = request.url.params["user"]
            if uid not in USERS:
                return httpx.Response(200, json={"ok": False, "error": "user_not_found"})
            profile = USERS[uid]
            return httpx.Response(
                200,
                json={
                    "ok": True,
                    "user": {"id": uid, "name": profile["real_name"].lower(), "profile": profile},
                },
            )
        if method == "chat.postMessage":
            sent = json.loads(request.content)
            return httpx.Response(
                200,
                json={
                    "ok": True,
                    "channel": sent["channel"],
                    "ts": "1795273260.000400",
                    "message": {"text": sent["text"], "type": "message", "user": "U0BOT"},
                },
            )
        return httpx.Response(200, json={"ok": False, "error": "unknown_method"})

    def calls(self, method: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith("/" + method)]


def tools_for(fake: FakeSlack, secrets: Secrets | None = None, **kw: Any) -> dict[str, ToolDef]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    ctx = ConnectorContext(
        http=http,
        settings=SETTINGS,
        secrets=secrets or Secrets({"slack.token": "xoxb-test"}),
        **kw,
    )
    return {tool.name: tool for tool in CONNECTOR.build_tools(ctx)}


# ---------------------------------------------------------------- reading


async def test_list_channels_follows_the_cursor() -> None:
    fake = FakeSlack()

    said = await tools_for(fake)["list_slack_channels"].func()

    assert said == (
        "You're in 2 channels: #general, #standup. There are 1 other channels you could join."
    )
    first, second = fake.calls("conversations.list")
    assert first.url.host == HOST
    assert first.headers["authorization"] == "Bearer xoxb-test"
    assert dict(first.url.params) == {
        "types": "public_channel,private_channel",
        "exclude_archived": "true",
        "limit": "200",
    }
    assert second.url.params["cursor"] == "dGVhbTpDMDYxRkE1UEI="


async def test_read_channel_by_spoken_name() -> None:
    fake = FakeSlack()

    said = await tools_for(fake)["read_slack_channel"].func(channel="#General", count=3)

    assert said.splitlines() == [
        "Latest in #General:",
        "ana (Friday 20 November 12:00 PM): Lunch at noon? @here",
        "Deploy bot (2:00 PM): Deployed a link to #general",
        "Ben Okafor (3:00 PM): Sure & see the plan, @ana",
    ]
    (history,) = fake.calls("conversations.history")
    assert dict(history.url.params) == {"channel": "C012AB3CD", "limit": "3"}
    assert len(fake.calls("users.info")) == 2  # each person looked up once


async def test_channel_ids_are_cached_between_calls() -> None:
    fake = FakeSlack()
    tool = tools_for(fake)["read_slack_channel"]

    await tool.func(channel="general")
    listed = len(fake.calls("conversations.list"))
    await tool.func(channel="general")

    assert listed == 2  # both pages, once
    assert len(fake.calls("conversations.list")) == listed


async def test_a_channel_id_needs_no_lookup() -> None:
    fake = FakeSlack()

    await tools_for(fake)["read_slack_channel"].func(channel="C012AB3CD")

    assert fake.calls("conversations.list") == []


async def test_an_unknown_person_is_someone() -> None:
    history = {
        "ok": True,
        "messages": [{"type": "message", "user": "U999", "text": "hi", "ts": "1795273200.1"}],
    }
    fake = FakeSlack(conversations_history=history)

    said = await tools_for(fake)["read_slack_channel"].func(channel="general")

    assert said.splitlines()[-1] == "someone (3:00 PM): hi"


async def test_an_empty_channel() -> None:
    fake = FakeSlack(conversations_history={"ok": True, "messages": [], "has_more": False})

    said = await tools_for(fake)["read_slack_channel"].func(channel="standup")

    assert said == "#standup has no messages yet."


async def test_unknown_channel_name() -> None:
    fake = FakeSlack()

    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["read_slack_channel"].func(channel="nope")

    assert caught.value.message == "I couldn't find a Slack channel called #nope."
    assert fake.calls("conversations.history") == []


# ---------------------------------------------------------------- posting


async def test_post_a_message() -> None:
    fake = FakeSlack()
    tools = tools_for(fake)

    said = await tools["post_slack_message"].func(channel="standup", text=" Running late ")

    assert said == "Posted to #standup."
    (post,) = fake.calls("chat.postMessage")
    assert post.method == "POST"
    assert post.headers["authorization"] == "Bearer xoxb-test"
    assert post.headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(post.content) == {"channel": "G0AKFJBEU", "text": "Running late"}


async def test_post_readback_and_side_effect() -> None:
    tool = tools_for(FakeSlack())["post_slack_message"]

    assert tool.side_effect
    assert render_progress(tool.readback, {"channel": "general", "text": "Hi all"}) == (
        "Post to #general: Hi all"
    )


@pytest.mark.parametrize(
    ("text", "sentence"),
    [("   ", "There's no text to post."), ("x" * 4001, "That message is too long")],
)
async def test_post_refuses_bad_text_without_a_request(text: str, sentence: str) -> None:
    fake = FakeSlack()

    with pytest.raises(ConnectorError, match=sentence):
        await tools_for(fake)["post_slack_message"].func(channel="general", text=text)
    assert fake.requests == []


# ---------------------------------------------------------------- documented errors


def slack_error(code: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "error": code, **extra}


@pytest.mark.parametrize(
    ("code", "sentence"),
    [
        ("not_authed", "Slack didn't get a token. Reconnect it: python main.py connect slack"),
        (
            "invalid_auth",
            "Slack didn't accept your token. Reconnect it: python main.py connect slack",
        ),
        ("channel_not_found", "I couldn't find that Slack channel."),
        ("not_in_channel", "Hark isn't a member of that channel."),
        ("is_archived", "That Slack channel is archived."),
        ("some_new_error", "Slack refused that (some new error)."),
    ],
)
async def test_documented_error_codes(code: str, sentence: str) -> None:
    fake = FakeSlack(chat_postMessage=slack_error(code))

    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["post_slack_message"].func(channel="C012AB3CD", text="hi")

    assert caught.value.message.startswith(sentence)


async def test_missing_scope_names_it() -> None:
    fake = FakeSlack(
        conversations_list=slack_error(
            "missing_scope", needed="channels:read", provided="chat:write"
        )
    )

    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["list_slack_channels"].func()

    assert caught.value.message == (
        "Your Slack token is missing a permission (channels:read). Add it to the Slack app, "
        "reinstall it, and reconnect: python main.py connect slack"
    )


async def test_ratelimited_with_retry_after() -> None:
    fake = FakeSlack(
        conversations_history=lambda _r: httpx.Response(
            429, headers={"Retry-After": "30"}, json=slack_error("ratelimited")
        )
    )

    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["read_slack_channel"].func(channel="C012AB3CD")

    assert caught.value.message == "Slack is rate-limiting requests; try again in 30 seconds."
    assert caught.value.retryable
    assert caught.value.status == 429


async def test_ratelimited_without_retry_after() -> None:
    fake = FakeSlack(conversations_list=lambda _r: httpx.Response(429, text=""))

    with pytest.raises(ConnectorError, match="try again in a minute"):
        await tools_for(fake)["list_slack_channels"].func()


async def test_fatal_error_is_retryable() -> None:
    fake = FakeSlack(conversations_list=slack_error("fatal_error"))

    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["list_slack_channels"].func()

    assert caught.value.message == "Slack is having trouble right now."
    assert caught.value.retryable


@pytest.mark.parametrize("status", [500, 503])
async def test_http_server_error(status: int) -> None:
    fake = FakeSlack(conversations_list=lambda _r: httpx.Response(status, text="down"))

    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["list_slack_channels"].func()

    assert caught.value.message == f"Slack is having trouble right now (HTTP {status})."


async def test_http_401() -> None:
    fake = FakeSlack(conversations_list=lambda _r: httpx.Response(401, text=""))

    with pytest.raises(ConnectorError, match=r"refused the request \(not authorised\)"):
        await tools_for(fake)["list_slack_channels"].func()


async def test_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ConnectorError, match=r"^Slack did not answer in time\.$"):
        await tools_for(FakeSlack(conversations_list=hang))["list_slack_channels"].func()


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html/>"),
        httpx.Response(200, json=["ok"]),
        httpx.Response(200, json={"channels": []}),
        httpx.Response(200, json={"ok": True}),
        httpx.Response(200, json={"ok": True, "channels": [{"name": "general"}]}),
    ],
    ids=["html", "array", "no-ok", "no-channels", "no-id"],
)
async def test_malformed(reply: httpx.Response) -> None:
    fake = FakeSlack(conversations_list=lambda _r: reply)

    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["list_slack_channels"].func()

    assert caught.value.message == "Slack sent an answer I couldn't read."


async def test_missing_token() -> None:
    fake = FakeSlack()
    tools = tools_for(fake, secrets=Secrets({}))

    for name, args in [
        ("list_slack_channels", {}),
        ("read_slack_channel", {"channel": "general"}),
        ("post_slack_message", {"channel": "general", "text": "hi"}),
    ]:
        with pytest.raises(ConnectorError) as caught:
            await tools[name].func(**args)
        assert caught.value.message == "Connect Slack first: python main.py connect slack"
    assert fake.requests == []


def test_metadata_and_progress() -> None:
    tools = tools_for(FakeSlack())
    assert sorted(tools) == ["list_slack_channels", "post_slack_message", "read_slack_channel"]
    assert [t.name for t in tools.values() if t.side_effect] == ["post_slack_message"]
    assert render_progress(tools["read_slack_channel"].progress, {"channel": "general"}) == (
        "Reading #general on Slack..."
    )
    assert CONNECTOR.requires_secrets == ("slack.token",)
    assert "chat:write" in CONNECTOR.key_help


async def test_endpoint_override() -> None:
    fake = FakeSlack()
    tools = tools_for(fake, endpoints={"slack": "http://127.0.0.1:3000/api/"})

    await tools["list_slack_channels"].func()

    assert str(fake.requests[0].url).startswith("http://127.0.0.1:3000/api/conversations.list?")
