"""Suite-wide fixtures: the scripted OpenAI server is available to every test."""

pytest_plugins = ["tests.fakes.fixtures", "tests.fakes.pulse"]
