"""A loopback stand-in for Open-Meteo, for subprocess tests where MockTransport cannot reach.

Serves the geocoding and forecast endpoints with payloads shaped like Open-Meteo's documented
responses; ``endpoints`` gives the settings override that points Hark's weather connector here.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

PLACES = {
    "paris": {
        "id": 2988507,
        "name": "Paris",
        "latitude": 48.85341,
        "longitude": 2.3488,
        "elevation": 42.0,
        "feature_code": "PPLC",
        "country_code": "FR",
        "timezone": "Europe/Paris",
        "population": 2138551,
        "country": "France",
        "admin1": "Île-de-France",
    },
}


def forecast_payload(lat: float, lon: float) -> dict[str, Any]:
    return {
        "latitude": lat,
        "longitude": lon,
        "generationtime_ms": 0.05,
        "utc_offset_seconds": 3600,
        "timezone": "Europe/Paris",
        "timezone_abbreviation": "CET",
        "elevation": 42.0,
        "current_units": {
            "time": "iso8601",
            "interval": "seconds",
            "temperature_2m": "°C",
            "apparent_temperature": "°C",
            "relative_humidity_2m": "%",
            "weather_code": "wmo code",
            "wind_speed_10m": "km/h",
            "precipitation": "mm",
        },
        "current": {
            "time": "2026-11-21T10:00",
            "interval": 900,
            "temperature_2m": 12.4,
            "apparent_temperature": 10.9,
            "relative_humidity_2m": 71,
            "weather_code": 3,
            "wind_speed_10m": 14.2,
            "precipitation": 0.0,
        },
        "daily_units": {
            "time": "iso8601",
            "weather_code": "wmo code",
            "temperature_2m_max": "°C",
            "temperature_2m_min": "°C",
            "precipitation_probability_max": "%",
        },
        "daily": {
            "time": ["2026-11-21", "2026-11-22", "2026-11-23"],
            "weather_code": [3, 61, 0],
            "temperature_2m_max": [13.1, 11.0, 9.8],
            "temperature_2m_min": [6.2, 7.4, 3.1],
            "precipitation_probability_max": [10, 80, 0],
        },
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.server.seen.append((url.path, query))
        if url.path.endswith("/search"):
            place = PLACES.get(query.get("name", "").lower())
            body: dict[str, Any] = {"results": [place]} if place else {"generationtime_ms": 0.1}
            self._send(200, body)
        elif url.path.endswith("/forecast"):
            self._send(200, forecast_payload(float(query["latitude"]), float(query["longitude"])))
        else:
            self._send(404, {"error": True, "reason": "Not Found"})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    seen: list[tuple[str, dict[str, str]]]


class FakeOpenMeteo:
    def __enter__(self) -> FakeOpenMeteo:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.seen = []
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def seen(self) -> list[tuple[str, dict[str, str]]]:
        return self._server.seen

    @property
    def endpoints(self) -> str:
        base = f"http://127.0.0.1:{self._server.server_address[1]}"
        return json.dumps(
            {"open_meteo_geocoding": f"{base}/geo/v1", "open_meteo_forecast": f"{base}/fc/v1"}
        )
