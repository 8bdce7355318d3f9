"""The web reader against fake sites served by httpx.MockTransport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from agents import function_tool

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.web_reader import (
    CONNECTOR,
    MAX_BYTES,
    WebPageReader,
    extract_html,
    is_private_host,
    truncate,
)

ARTICLE_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>  Voice assistants,
     explained | Example News </title>
  <style>body { color: red }</style>
  <script>window.tracking = "SCRIPT TEXT";</script>
</head>
<body>
  <header><a href="/">HEADER LINK</a></header>
  <nav><ul><li>NAV ITEM</li></ul></nav>
  <article>
    <h1>Voice assistants, explained</h1>
    <p>A voice assistant   listens for
       a request and <b>answers</b> it out loud.</p>
    <p>Good ones keep answers <em>short</em>.</p>
    <ul><li>First point</li><li>Second point</li></ul>
    <div hidden>HIDDEN TEXT</div>
    <form><label>NEWSLETTER FORM</label></form>
    <svg><text>SVG TEXT</text></svg>
  </article>
  <aside>ASIDE TEXT</aside>
  <footer>FOOTER TEXT</footer>
  <noscript>NOSCRIPT TEXT</noscript>
</body>
</html>"""

Handler = Callable[[httpx.Request], httpx.Response]


class FakeWeb:
    """Routes requests by URL to canned responses and records them."""

    def __init__(self, routes: dict[str, Handler | httpx.Response]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get(str(request.url))
        if answer is None:
            return httpx.Response(404, text="no such page")
        return answer(request) if callable(answer) else answer

    @property
    def urls(self) -> list[str]:
        return [str(r.url) for r in self.requests]


def html(body: str, charset: str = "utf-8", **headers: str) -> httpx.Response:
    return httpx.Response(
        200,
        headers={"content-type": f"text/html; charset={charset}", **headers},
        content=body.encode(charset),
    )


def tools_for(fake: FakeWeb, config: Any = None) -> dict[str, ToolDef]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    ctx = ConnectorContext(http=http, settings=config)
    return {tool.name: tool for tool in CONNECTOR.build_tools(ctx)}


async def read(fake: FakeWeb, url: str, max_chars: int = 4000, config: Any = None) -> str:
    return await tools_for(fake, config)["read_web_page"].func(url=url, max_chars=max_chars)


async def failure(fake: FakeWeb, url: str, config: Any = None) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        await read(fake, url, config=config)
    return caught.value


URL = "https://news.example.com/voice"


# ---------------------------------------------------------------- reading


async def test_article_text_is_extracted_with_title_and_paragraphs() -> None:
    fake = FakeWeb({URL: html(ARTICLE_PAGE)})

    said = await read(fake, URL)

    assert said == (
        "Title: Voice assistants, explained | Example News\n"
        f"URL: {URL}\n"
        "\n"
        "Voice assistants, explained\n"
        "\n"
        "A voice assistant listens for a request and answers it out loud.\n"
        "\n"
        "Good ones keep answers short.\n"
        "\n"
        "First point\n"
        "\n"
        "Second point"
    )
    [request] = fake.requests
    assert request.method == "GET"
    assert request.headers["accept"].startswith("text/html")


def test_boilerplate_is_dropped_from_the_whole_body_without_article() -> None:
    page = ARTICLE_PAGE.replace("<article>", "<div>").replace("</article>", "</div>")

    title, text = extract_html(page)

    assert title == "Voice assistants, explained | Example News"
    assert "A voice assistant listens" in text
    for noise in (
        "SCRIPT",
        "HEADER",
        "NAV",
        "HIDDEN",
        "NEWSLETTER",
        "SVG",
        "ASIDE",
        "FOOTER",
        "NOSCRIPT",
        "color: red",
    ):
        assert noise not in text


def test_main_is_preferred_when_there_is_no_article() -> None:
    page = "<html><body><div>Sidebar blurb</div><main><p>The main story.</p></main></body></html>"

    title, text = extract_html(page)

    assert title is None
    assert text == "The main story."


def test_the_longest_article_wins() -> None:
    page = (
        "<body><article><p>Teaser.</p></article>"
        "<article><p>The full story, which is much longer.</p></article></body>"
    )

    assert extract_html(page)[1] == "The full story, which is much longer."


def test_title_falls_back_to_open_graph_then_h1() -> None:
    og = '<html><head><meta property="og:title" content="OG Title"></head><body>x</body></html>'
    assert extract_html(og)[0] == "OG Title"
    assert extract_html("<body><h1> Heading\n One </h1><p>x</p></body>")[0] == "Heading One"


def test_deeply_nested_markup_does_not_overflow() -> None:
    page = "<body>" + "<div>" * 3000 + "deep text" + "</div>" * 3000 + "</body>"

    assert extract_html(page)[1] == "deep text"


async def test_charset_from_the_content_type_header_is_used() -> None:
    page = "<html><head><title>Café crème</title></head><body><p>Déjà vu à Paris.</p></body>"
    fake = FakeWeb({URL: html(page, charset="iso-8859-1")})

    said = await read(fake, URL)

    assert said.startswith("Title: Café crème\n")
    assert said.endswith("Déjà vu à Paris.")


async def test_charset_from_a_meta_tag_is_used_when_the_header_has_none() -> None:
    page = '<html><head><meta charset="windows-1252"><title>Naïve “quotes”</title></head></html>'
    fake = FakeWeb(
        {
            URL: httpx.Response(
                200, headers={"content-type": "text/html"}, content=page.encode("cp1252")
            )
        }
    )

    said = await read(fake, URL)

    assert said.startswith("Title: Naïve “quotes”\n")
    assert said.endswith("(The page has no readable text.)")


async def test_plain_text_is_returned_as_is() -> None:
    body = "Line one.\n\nLine two,   spaced as written.\n"
    fake = FakeWeb(
        {URL: httpx.Response(200, headers={"content-type": "text/plain; charset=utf-8"}, text=body)}
    )

    said = await read(fake, URL)

    assert said == f"Title: (no title)\nURL: {URL}\n\nLine one.\n\nLine two,   spaced as written."


async def test_json_is_pretty_printed() -> None:
    url = "https://api.example.com/status.json"
    fake = FakeWeb({url: httpx.Response(200, json={"status": "ok", "uptime": [1, 2]})})

    said = await read(fake, url)

    body = said.split("\n\n", 1)[1]
    assert json.loads(body) == {"status": "ok", "uptime": [1, 2]}
    assert '\n "status": "ok"' in body


async def test_missing_content_type_is_sniffed() -> None:
    fake = FakeWeb(
        {URL: httpx.Response(200, content=b"<!DOCTYPE html><title>T</title><p>Sniffed.</p>")}
    )

    assert (await read(fake, URL)).endswith("\n\nSniffed.")


async def test_a_url_without_scheme_gets_https() -> None:
    fake = FakeWeb({"https://example.com/page": html("<p>Hi</p>")})

    said = await read(fake, "example.com/page")

    assert fake.urls == ["https://example.com/page"]
    assert "URL: https://example.com/page" in said


# ---------------------------------------------------------------- truncation


async def test_long_text_is_cut_on_a_word_boundary_with_a_note() -> None:
    words = " ".join(f"word{i}" for i in range(400))
    fake = FakeWeb({URL: html(f"<title>Long</title><p>{words}</p>")})

    said = await read(fake, URL, max_chars=200)

    header, body = said.split("\n\n", 1)
    assert header == f"Title: Long\nURL: {URL}"
    text, note = body.rsplit("\n\n", 1)
    assert text.endswith(" …")
    kept = text.removesuffix(" …")
    assert len(kept) <= 200
    assert words.startswith(kept + " ")
    assert note == f"[{len(words) - len(kept):,} more characters not shown, of {len(words):,}.]"


async def test_max_chars_is_clamped_to_a_useful_minimum() -> None:
    words = " ".join(["lorem"] * 200)
    fake = FakeWeb({URL: html(f"<p>{words}</p>")})

    said = await read(fake, URL, max_chars=5)

    kept = said.split("\n\n")[1].removesuffix(" …")
    assert 150 < len(kept) <= 200


def test_truncate_leaves_short_text_alone() -> None:
    assert truncate("short text", 100) == "short text"


# ---------------------------------------------------------------- redirects


async def test_redirects_are_followed_and_the_final_url_reported() -> None:
    fake = FakeWeb(
        {
            "http://example.com/old": httpx.Response(
                301, headers={"location": "https://example.com/new"}
            ),
            "https://example.com/new": httpx.Response(302, headers={"location": "/final?x=1"}),
            "https://example.com/final?x=1": html("<title>Final</title><p>Arrived.</p>"),
        }
    )

    said = await read(fake, "http://example.com/old")

    assert said.startswith("Title: Final\nURL: https://example.com/final?x=1\n")
    assert fake.urls == [
        "http://example.com/old",
        "https://example.com/new",
        "https://example.com/final?x=1",
    ]


async def test_five_redirects_are_fine_six_are_too_many() -> None:
    def chain(length: int) -> dict[str, Handler | httpx.Response]:
        routes: dict[str, Handler | httpx.Response] = {
            f"https://example.com/{i}": httpx.Response(
                307, headers={"location": f"https://example.com/{i + 1}"}
            )
            for i in range(length)
        }
        routes[f"https://example.com/{length}"] = html("<p>End of the chain.</p>")
        return routes

    assert (await read(FakeWeb(chain(5)), "https://example.com/0")).endswith("End of the chain.")

    fake = FakeWeb(chain(6))
    error = await failure(fake, "https://example.com/0")
    assert error.message == "https://example.com/0 redirected too many times; I gave up."
    assert len(fake.requests) == 6


async def test_a_redirect_to_a_private_address_is_refused() -> None:
    fake = FakeWeb(
        {
            URL: httpx.Response(
                302, headers={"location": "http://169.254.169.254/latest/meta-data"}
            ),
        }
    )

    error = await failure(fake, URL)

    assert error.message == (
        "I won't open http://169.254.169.254/latest/meta-data: "
        "it points to this computer or a private network."
    )
    assert fake.urls == [URL]


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/admin",
        "http://LOCALHOST./",
        "http://app.localhost/",
        "http://127.0.0.1/",
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0.0.0.0:8000/",
        "http://10.0.0.5/router",
        "http://172.16.3.4/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8000/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[::ffff:127.0.0.1]/",
    ],
)
async def test_private_addresses_are_refused_before_any_request(url: str) -> None:
    fake = FakeWeb({})

    error = await failure(fake, url)

    assert error.message == f"I won't open {url}: it points to this computer or a private network."
    assert fake.requests == []


async def test_private_addresses_are_allowed_when_the_setting_says_so() -> None:
    fake = FakeWeb({"http://localhost:8080/notes": html("<p>Local notes.</p>")})

    said = await read(
        fake, "http://localhost:8080/notes", config=SimpleNamespace(allow_private_urls=True)
    )

    assert said.endswith("Local notes.")


@pytest.mark.parametrize(
    "url", ["ftp://example.com/file.txt", "file:///etc/passwd", "javascript:alert(1)"]
)
async def test_only_http_and_https(url: str) -> None:
    fake = FakeWeb({})

    error = await failure(fake, url)

    assert error.message == f"I can only open http and https links, not {url}."
    assert fake.requests == []


async def test_a_blank_url_asks_for_an_address() -> None:
    fake = FakeWeb({})

    error = await failure(fake, "  ")

    assert error.message == "I need a web address to read."
    assert fake.requests == []


@pytest.mark.parametrize(
    ("host", "private"),
    [
        ("example.com", False),
        ("8.8.8.8", False),
        ("2606:4700::1111", False),
        ("face.cafe", False),
        ("100.64.0.1", True),
        ("224.0.0.1", True),
        ("[::1]", True),
    ],
)
def test_private_host_classification(host: str, private: bool) -> None:
    assert is_private_host(host) is private


# ---------------------------------------------------------------- content types


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("application/pdf", "a PDF document"),
        ("image/png", "an image"),
        ("video/mp4", "a video"),
        ("audio/mpeg", "an audio file"),
        ("application/zip", "a file of type application/zip"),
    ],
)
async def test_unreadable_types_are_named(content_type: str, kind: str) -> None:
    pulled: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for i in range(3):
            pulled.append(i)
            yield b"%PDF-1.7 binary"

    fake = FakeWeb(
        {URL: httpx.Response(200, headers={"content-type": content_type}, content=body())}
    )

    error = await failure(fake, URL)

    assert error.message == f"The link {URL} is {kind}, which I can't read."
    assert pulled == [], "the body of an unreadable file is not downloaded"


# ---------------------------------------------------------------- size and time limits


async def test_a_declared_size_over_the_cap_is_refused_before_reading() -> None:
    response = httpx.Response(
        200,
        headers={"content-type": "text/html", "content-length": str(MAX_BYTES + 1)},
        content=b"<p>x</p>",
    )
    fake = FakeWeb({URL: response})

    error = await failure(fake, URL)

    assert error.message == f"The page at {URL} is too large to read (over 2 MB)."


async def test_streaming_stops_once_the_cap_is_passed() -> None:
    chunk = b"<p>" + b"a" * 65_533 + b"</p>"  # 64 KiB, no content-length: chunked transfer
    total_chunks = 64  # 4 MiB if it were all read
    pulled: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for i in range(total_chunks):
            pulled.append(i)
            yield chunk

    fake = FakeWeb(
        {URL: httpx.Response(200, headers={"content-type": "text/html"}, content=body())}
    )

    error = await failure(fake, URL)

    assert error.message == f"The page at {URL} is too large to read (over 2 MB)."
    assert len(pulled) == MAX_BYTES // len(chunk) + 1 < total_chunks


async def test_reader_total_time_cap() -> None:
    never = asyncio.Event()

    async def stall(request: httpx.Request) -> httpx.Response:
        await never.wait()
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(stall)) as http:
        reader = WebPageReader(http, total_timeout=0)
        with pytest.raises(ConnectorError) as caught:
            await reader.read(URL)

    assert caught.value.message == "news.example.com took too long to send the page."
    assert caught.value.retryable


async def test_reader_with_a_small_cap() -> None:
    fake = FakeWeb({URL: html("<p>" + "x" * 2000 + "</p>")})
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        with pytest.raises(ConnectorError, match=r"too large to read \(over 0.001 MB\)"):
            await WebPageReader(http, max_bytes=1000).read(URL)
        page = await WebPageReader(http, max_bytes=10_000).read(URL)

    assert page.url == URL
    assert page.text == "x" * 2000


# ---------------------------------------------------------------- HTTP and network errors


@pytest.mark.parametrize(
    ("status", "message", "retryable"),
    [
        (404, f"The page at {URL} was not found.", False),
        (410, f"The page at {URL} was not found.", False),
        (401, f"The site refused access to {URL} (HTTP 401); it may need a login.", False),
        (403, f"The site refused access to {URL} (HTTP 403); it may need a login.", False),
        (429, "news.example.com is rate-limiting requests; try again in a minute.", True),
        (500, "news.example.com is having trouble right now (HTTP 500).", True),
        (503, "news.example.com is having trouble right now (HTTP 503).", True),
        (418, "news.example.com rejected the request (HTTP 418).", False),
    ],
)
async def test_http_errors(status: int, message: str, retryable: bool) -> None:
    fake = FakeWeb({URL: httpx.Response(status, text="<h1>Error</h1>")})

    error = await failure(fake, URL)

    assert error.message == message
    assert error.status == status
    assert error.retryable is retryable


async def test_dns_or_connection_failure() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    error = await failure(FakeWeb({URL: unreachable}), URL)

    assert error.message == (
        "I couldn't connect to news.example.com; the address may be wrong or the site down."
    )
    assert error.retryable


async def test_timeout() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    error = await failure(FakeWeb({URL: slow}), URL)

    assert error.message == "news.example.com did not answer in time."
    assert error.retryable


async def test_broken_connection_mid_read() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    error = await failure(FakeWeb({URL: broken}), URL)

    assert error.message == "The connection to news.example.com failed while reading the page."


# ---------------------------------------------------------------- wiring


def test_tool_schema_and_progress() -> None:
    [tool] = tools_for(FakeWeb({})).values()
    wrapped = function_tool(tool.func)
    schema = wrapped.params_json_schema

    assert wrapped.name == "read_web_page"
    assert wrapped.strict_json_schema
    assert list(schema["properties"]) == ["url", "max_chars"]
    assert sorted(schema["required"]) == ["max_chars", "url"]
    assert schema["properties"]["url"]["type"] == "string"
    assert schema["properties"]["max_chars"]["type"] == "integer"
    assert schema["additionalProperties"] is False
    assert render_progress(tool.progress, {"url": URL}) == f"Reading {URL}..."
    assert CONNECTOR.name == "web_reader"
    for template in CONNECTOR.followups:
        assert "…" not in render_progress(template, {"url": URL, "max_chars": 4000})
