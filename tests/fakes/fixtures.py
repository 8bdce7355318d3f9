"""pytest fixtures for the scripted OpenAI server.

Make them available to the whole suite from tests/conftest.py with
`pytest_plugins = ["tests.fakes.fixtures"]` (or import the fixture names there).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.openai_server import ScriptedOpenAIServer

TEST_API_KEY = "sk-test-hark"


@pytest.fixture
def openai_server() -> Iterator[ScriptedOpenAIServer]:
    """A fresh fake OpenAI (echo brain) per test; set `.brain` to script it.

    At teardown the test fails if the fake sent anything the `openai` SDK's types reject, if a
    scripted brain raised, or if a Realtime client event did not match the SDK's types.
    """
    with ScriptedOpenAIServer() as server:
        yield server
        server.assert_wire_clean()


@pytest.fixture
def openai_env(
    openai_server: ScriptedOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> ScriptedOpenAIServer:
    """`openai_server`, with OPENAI_BASE_URL and OPENAI_API_KEY pointing this process at it.

    Subprocesses started with `os.environ` inherit them too.
    """
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", TEST_API_KEY)
    return openai_server
