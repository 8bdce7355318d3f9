"""Slack: list channels, read recent messages, and post a message (after the user approves).

The Web API answers HTTP 200 even for failures, with ``{"ok": false, "error": "<code>"}``;
``SlackClient`` turns the documented error codes into sentences, and reads ``Retry-After`` on
HTTP 429 (``ratelimited``) so the user hears how long to wait. People say channel names, the
API wants channel ids: names are resolved through ``conversations.list`` and cached, and user
ids in messages become names through ``users.info`` (best effort: a name that can't be looked
up is said as "someone" rather than failing the whole read).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from src.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorError,
    ToolDef,
    body_object,
    rate_limited,
    request_json,
    require_secret,
)
from src.connectors.clock import local_zone, spoken_clock, spoken_date

NAME = "slack"
TITLE = "Slack"
SERVICE = "Slack"
DEFAULT_BASE_URL = "https://slack.com/api"
TOKEN = "slack.token"  # a bot (xoxb-) or user (xoxp-) token
REQUEST_TIMEOUT = httpx.Timeout(15.0)
MAX_CHANNEL_PAGES = 5
CHANNELS_SPOKEN = 20
DEFAULT_MESSAGES = 10
MAX_MESSAGES = 50
MAX_POST_CHARS = 4000  # Slack truncates longer text; refuse instead of losing the end

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{8,}$")
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL_MENTION = re.compile(r"<#[CG][A-Z0-9]+\|([^>]*)>")
_LINK = re.compile(r"<(https?://[^>|]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")

# Documented error codes, as sentences. Anything else is relayed with its code.
_ERRORS: Mapping[str, str] = {
    "not_authed": "Slack didn't get a token. Reconnect it: python main.py connect slack",
    "invalid_auth": "Slack didn't accept your token. Reconnect it: python main.py connect slack",
    "token_revoked": "Your Slack token was revoked. Reconnect it: python main.py connect slack",
    "token_expired": "Your Slack token has expired. Reconnect it: python main.py connect slack",
    "account_inactive": "The Slack account behind your token is deactivated.",
    "no_permission": "Your Slack token isn't allowed to do that.",
    "channel_not_found": "I couldn't find that Slack channel.",
    "not_in_channel": (
        "Hark isn't a member of that channel. Invite the app to it in Slack first "
        "(type /invite and the app's name in the channel)."
    ),
    "is_archived": "That Slack channel is archived.",
    "msg_too_long": "That message is too long for Slack.",
    "no_text": "There's no text to post.",
    "restricted_action": "The workspace settings don't allow posting in that channel.",
    "fatal_error": "Slack is having trouble right now.",
    "internal_error": "Slack is having trouble right now.",
    "service_unavailable": "Slack is having trouble right now.",
    "request_timeout": "Slack did not answer in time.",
}
_RETRYABLE = frozenset({"fatal_error", "internal_error", "service_unavailable", "request_timeout"})

Clock = Callable[[], datetime]


class SlackClient:
    """A few Web API methods over one shared ``httpx.AsyncClient``."""

    def __init__(
        self, http: httpx.AsyncClient, token: Callable[[], str], base_url: str = DEFAULT_BASE_URL
    ) -> None:
        self._http = http
        self._token = token
        self._base = base_url.rstrip("/")
        self._channel_ids: dict[str, str] = {}
        self._user_names: dict[str, str] = {}

    async def call(
        self,
        method: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One API method; ``body`` makes it a JSON POST. Returns the ``ok`` payload."""
        headers = {"Authorization": f"Bearer {self._token()}"}
        if body is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        payload = await request_json(
            self._http,
            SERVICE,
            "GET" if body is None else "POST",
            f"{self._base}/{method}",
            params=(params or {}) if body is None else None,
            json=body,
            headers=headers,
            timeout=REQUEST_TIMEOUT,
            check=_refusal,
            malformed=_malformed(),
        )
        if "ok" not in payload:
            raise _malformed()
        return payload

    async def channels(self) -> list[dict[str, Any]]:
        """Every non-archived public and private channel the token can see."""
        found: list[dict[str, Any]] = []
        cursor = ""
        for _page in range(MAX_CHANNEL_PAGES):
            params: dict[str, str | int] = {
                "types": "public_channel,private_channel",
                "exclude_archived": "true",
                "limit": 200,
            }
            if cursor:
                params["cursor"] = cursor
            payload = await self.call("conversations.list", params=params)
            try:
                page = [dict(c) for c in payload["channels"]]
                if not all(isinstance(c.get("id"), str) and c.get("name") for c in page):
                    raise ValueError("a channel without an id or name")
                meta = payload.get("response_metadata") or {}
                cursor = str(meta.get("next_cursor") or "")
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise _malformed() from exc
            found.extend(page)
            self._channel_ids.update({str(c["name"]).lower(): str(c["id"]) for c in page})
            if not cursor:
                break
        return found

    async def channel_id(self, name: str) -> str:
        """A channel id from a spoken name ("general", "#general") or an id."""
        cleaned = channel_name(name)
        if not cleaned:
            raise ConnectorError("Which Slack channel?")
        if _CHANNEL_ID.match(cleaned):
            return cleaned
        key = cleaned.lower()
        if key not in self._channel_ids:
            await self.channels()
        if key not in self._channel_ids:
            raise ConnectorError(f"I couldn't find a Slack channel called #{cleaned}.")
        return self._channel_ids[key]

    def forget_channel(self, name: str) -> None:
        self._channel_ids.pop(channel_name(name).lower(), None)

    async def user_name(self, user_id: str) -> str:
        """A person's display name, or "someone" if it can't be looked up."""
        if user_id in self._user_names:
            return self._user_names[user_id]
        try:
            payload = await self.call("users.info", params={"user": user_id})
            user = payload["user"]
            profile = user.get("profile") or {}
            name = str(
                profile.get("display_name")
                or profile.get("real_name")
                or user.get("real_name")
                or user.get("name")
                or "someone"
            )
        except (ConnectorError, KeyError, TypeError, AttributeError):
            name = "someone"  # a name is a nicety: the messages are still worth reading
        self._user_names[user_id] = name
        return name


def channel_name(text: str) -> str:
    return text.strip().lstrip("#").strip()


def _refusal(response: httpx.Response) -> ConnectorError | None:
    """A 429, or a 200 whose payload says ``"ok": false`` (how Slack reports most errors)."""
    if response.status_code == 429:
        return rate_limited(SERVICE, response)
    payload = body_object(response) if response.is_success else {}
    if "ok" in payload and payload["ok"] is not True:
        return _api_error(payload, response)
    return None


def _api_error(payload: Mapping[str, Any], response: httpx.Response) -> ConnectorError:
    code = str(payload.get("error") or "unknown_error")
    if code == "ratelimited":
        return rate_limited(SERVICE, response)
    if code == "missing_scope":
        needed = payload.get("needed")
        scope = f" ({needed})" if needed else ""
        return ConnectorError(
            f"Your Slack token is missing a permission{scope}. Add it to the Slack app, "
            f"reinstall it, and reconnect: python main.py connect {NAME}"
        )
    sentence = _ERRORS.get(code)
    if sentence:
        return ConnectorError(sentence, retryable=code in _RETRYABLE)
    return ConnectorError(f"Slack refused that ({code.replace('_', ' ')}).")


def _malformed() -> ConnectorError:
    return ConnectorError(f"{SERVICE} sent an answer I couldn't read.", retryable=True)


async def readable_text(text: str, client: SlackClient) -> str:
    """Slack's markup (mentions, links, entities) as words a listener understands."""
    names = {uid: await client.user_name(uid) for uid in set(_USER_MENTION.findall(text))}
    text = _USER_MENTION.sub(lambda m: "@" + names[m.group(1)], text)
    text = _CHANNEL_MENTION.sub(lambda m: "#" + m.group(1), text)
    text = _LINK.sub(lambda m: m.group(2) or "a link", text)
    text = _SPECIAL.sub(lambda m: "@" + m.group(1), text)
    return " ".join(html.unescape(text).split())


def _clock(settings: Any) -> Clock:
    now = getattr(settings, "now", None)
    if callable(now):
        injected: Clock = now
        return injected
    return lambda: datetime.now(UTC)


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    client = SlackClient(
        ctx.http,
        lambda: require_secret(ctx, TOKEN, TITLE, NAME),
        ctx.endpoint("slack", DEFAULT_BASE_URL),
    )
    clock = _clock(ctx.settings)

    async def list_slack_channels() -> str:
        """List the Slack channels the user can read, the ones they're in first."""
        channels = await client.channels()
        if not channels:
            return "I can't see any Slack channels with this token."
        mine = sorted(str(c["name"]) for c in channels if c.get("is_member"))
        others = sorted(str(c["name"]) for c in channels if not c.get("is_member"))
        if not mine:
            return "You're not in any channels yet. Channels: " + _spoken_list(others) + "."
        text = f"You're in {len(mine)} channel{'s' if len(mine) != 1 else ''}: "
        text += _spoken_list(mine) + "."
        if others:
            text += f" There are {len(others)} other channels you could join."
        return text

    async def read_slack_channel(channel: str, count: int = DEFAULT_MESSAGES) -> str:
        """Read the latest messages in a Slack channel, oldest first.

        Args:
            channel: The channel's name without the leading #, e.g. "general".
            count: How many recent messages to read (1 to 50).
        """
        channel_id = await client.channel_id(channel)
        limit = max(1, min(MAX_MESSAGES, int(count)))
        try:
            payload = await client.call(
                "conversations.history", params={"channel": channel_id, "limit": limit}
            )
        except ConnectorError:
            client.forget_channel(channel)  # a renamed or deleted channel: look it up afresh
            raise
        try:
            messages = [dict(m) for m in payload["messages"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed() from exc
        label = f"#{channel_name(channel)}"
        if not messages:
            return f"{label} has no messages yet."
        zone = local_zone(ctx.settings).zone
        today = clock().astimezone(zone).date()
        lines = [f"Latest in {label}:"]
        for message in reversed(messages):
            text = await readable_text(str(message.get("text") or ""), client)
            if not text:
                text = "(an attachment)" if message.get("files") else "(no text)"
            if message.get("user"):
                who = await client.user_name(str(message["user"]))
            else:
                bot = message.get("bot_profile") or {}
                who = str(message.get("username") or bot.get("name") or "an app")
            when = ""
            try:
                moment = datetime.fromtimestamp(float(message["ts"]), UTC).astimezone(zone)
                when = spoken_clock(moment)
                if moment.date() != today:
                    when = f"{spoken_date(moment.date())} {when}"
            except (KeyError, TypeError, ValueError, OverflowError):
                when = ""
            lines.append(f"{who} ({when}): {text}" if when else f"{who}: {text}")
        return "\n".join(lines)

    async def post_slack_message(channel: str, text: str) -> str:
        """Post a message to a Slack channel as the connected account or app.

        Args:
            channel: The channel's name without the leading #, e.g. "general".
            text: The message to post, exactly as it should appear.
        """
        body = text.strip()
        if not body:
            raise ConnectorError("There's no text to post.")
        if len(body) > MAX_POST_CHARS:
            raise ConnectorError(f"That message is too long (over {MAX_POST_CHARS} characters).")
        channel_id = await client.channel_id(channel)
        await client.call("chat.postMessage", body={"channel": channel_id, "text": body})
        return f"Posted to #{channel_name(channel)}."

    return [
        ToolDef(list_slack_channels, progress="Listing your Slack channels..."),
        ToolDef(read_slack_channel, progress="Reading #{channel} on Slack..."),
        ToolDef(
            post_slack_message,
            progress="Posting to #{channel} on Slack...",
            side_effect=True,
            readback="Post to #{channel}: {text}",
        ),
    ]


def _spoken_list(names: Sequence[str]) -> str:
    shown = ", ".join(f"#{n}" for n in names[:CHANNELS_SPOKEN])
    if len(names) > CHANNELS_SPOKEN:
        shown += f" and {len(names) - CHANNELS_SPOKEN} more"
    return shown


CONNECTOR = Connector(
    name=NAME,
    title=TITLE,
    description=(
        "Reads the user's Slack: lists channels, reads a channel's recent messages, and posts "
        "a message to a channel after the user approves."
    ),
    instructions=(
        "You work with the user's Slack. Give channel names without the # sign. When reading "
        "a channel, summarise the recent conversation in a few sentences (who said what "
        "matters) rather than reading every message. Post exactly the text the user asked "
        "for; Hark reads it back and asks the user first, and if they decline, say nothing "
        "was posted. If a tool reports a problem, say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "What's new in the general channel on Slack?",
        "Post 'running ten minutes late' in #standup.",
        "Which Slack channels am I in?",
    ),
    requires_secrets=(TOKEN,),
    key_help=(
        "Create a Slack app at https://api.slack.com/apps, add the scopes channels:read, "
        "groups:read, channels:history, groups:history, users:read and chat:write, install it "
        "to your workspace, and store its Bot User OAuth Token (xoxb-...) as slack.token."
    ),
    followups=("Anything else new in #{channel}?", "Post a reply in #{channel}"),
)
