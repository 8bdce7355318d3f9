"""Unit conversion and the safe calculator: spoken answers, refusals, and no way to run code."""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from agents import function_tool
from hypothesis import given, settings
from hypothesis import strategies as st

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.unit_convert import (
    CONNECTOR,
    UNITS,
    CalculationError,
    calculate,
    convert,
    find_unit,
    format_result,
    spoken_number,
)

GENERIC = (
    "I can only work out arithmetic: numbers, + - * / // % **, brackets and functions "
    "such as sqrt, round, log or sin."
)


def tools_for(units: str | None = "metric") -> dict[str, ToolDef]:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unit_convert must not use the network: {request.url}")

    http = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    ctx = ConnectorContext(http=http, settings=SimpleNamespace(units=units) if units else None)
    return {tool.name: tool for tool in CONNECTOR.build_tools(ctx)}


async def convert_said(
    value: float, from_unit: str, to_unit: str = "", units: str = "metric"
) -> str:
    return await tools_for(units)["convert_units"].func(
        value=value, from_unit=from_unit, to_unit=to_unit
    )


async def calc(expression: str) -> str:
    return await tools_for()["calculate_expression"].func(expression=expression)


# ---------------------------------------------------------------- conversions


@pytest.mark.parametrize(
    ("value", "source", "target", "said"),
    [
        (10, "km", "miles", "10 kilometers is 6.214 miles."),
        (1, "mile", "feet", "1 mile is 5,280 feet."),
        (5, "ft", "cm", "5 feet is 152.4 centimeters."),
        (70, "kilos", "lbs", "70 kilograms is 154.3 pounds."),
        (12, "stone", "kg", "12 stone is 76.2 kilograms."),
        (3, "cups", "ml", "3 US cups is 709.8 milliliters."),
        (2, "fl. oz", "millilitres", "2 US fluid ounces is 59.15 milliliters."),
        (1, "cubic feet", "litres", "1 cubic foot is 28.32 liters."),
        (72, "°F", "C", "72 degrees Fahrenheit is 22.22 degrees Celsius."),
        (-40, "degrees celsius", "fahrenheit", "-40 degrees Celsius is -40 degrees Fahrenheit."),
        (0, "K", "°C", "0 kelvin is -273.1 degrees Celsius."),
        (100, "km / h", "mph", "100 kilometers per hour is 62.14 miles per hour."),
        (30, "knots", "m/s", "30 knots is 15.43 meters per second."),
        (5, "m²", "sq ft", "5 square meters is 53.82 square feet."),
        (3, "feet squared", "square meters", "3 square feet is 0.2787 square meters."),
        (1, "hectare", "acres", "1 hectare is 2.471 acres."),
        (2, "GiB", "GB", "2 gibibytes is 2.147 gigabytes."),
        (100, "Mbit", "MB", "100 megabits is 12.5 megabytes."),
        (1, "B", "b", "1 byte is 8 bits."),
        (3, "hours", "minutes", "3 hours is 180 minutes."),
        (1, "light year", "km", "1 light year is 9.461 trillion kilometers."),
        (1234567.891, "m", "km", "1,234,567.891 meters is 1,235 kilometers."),
    ],
)
async def test_conversions_read_naturally(
    value: float, source: str, target: str, said: str
) -> None:
    assert await convert_said(value, source, target) == said


@pytest.mark.parametrize(
    ("value", "source", "units", "said"),
    [
        (10, "km", "metric", "10 kilometers is 6.214 miles."),
        (10, "miles", "metric", "10 miles is 16.09 kilometers."),
        (10, "miles", "imperial", "10 miles is 16.09 kilometers."),
        (86, "F", "metric", "86 degrees Fahrenheit is 30 degrees Celsius."),
        (300, "kelvin", "metric", "300 kelvin is 26.85 degrees Celsius."),
        (300, "kelvin", "imperial", "300 kelvin is 80.33 degrees Fahrenheit."),
        (20, "knots", "metric", "20 knots is 37.04 kilometers per hour."),
        (20, "knots", "imperial", "20 knots is 23.02 miles per hour."),
        (1500, "MB", "metric", "1,500 megabytes is 1.5 gigabytes."),
        (500, "MB", "metric", "500 megabytes is 0.5 gigabytes."),
        (90, "minutes", "metric", "90 minutes is 1.5 hours."),
        (2, "PB", "metric", "2 petabytes is 2,000 terabytes."),
    ],
)
async def test_default_target_follows_the_units_setting(
    value: float, source: str, units: str, said: str
) -> None:
    assert await convert_said(value, source, units=units) == said


async def test_no_settings_means_metric() -> None:
    tools = tools_for(units=None)
    said = await tools["convert_units"].func(value=10, from_unit="m/s", to_unit="")
    assert said == "10 meters per second is 36 kilometers per hour."


@pytest.mark.parametrize(
    ("value", "source", "target", "message"),
    [
        (
            5,
            "kg",
            "m",
            "I can't convert kilograms to meters: one is a weight and the other a length.",
        ),
        (
            1,
            "GB",
            "hours",
            "I can't convert gigabytes to hours: one is a data size and the other a duration.",
        ),
        (3, "furlongs", "m", "I don't know the unit “furlongs”."),
        (3, "m", "smoots", "I don't know the unit “smoots”."),
        (-500, "C", "F", "-500 degrees Celsius is below absolute zero, which isn't possible."),
        (-1, "kelvin", "C", "-1 kelvin is below absolute zero, which isn't possible."),
        (10, "mg", "", "Which unit should I convert milligrams to?"),
        (math.inf, "m", "ft", "I need a real number to convert."),
    ],
)
async def test_clear_refusals(value: float, source: str, target: str, message: str) -> None:
    with pytest.raises(ConnectorError) as caught:
        await convert_said(value, source, target)
    assert caught.value.message == message


def test_every_unit_has_a_valid_counterpart_and_is_found_by_its_names() -> None:
    for unit in UNITS.values():
        assert find_unit(unit.plural) == unit or unit.plural in ("stone", "kelvin")
        assert find_unit(unit.singular) == unit
        counterpart = unit.counterpart
        targets = counterpart if isinstance(counterpart, tuple) else (counterpart,)
        for target in targets:
            if target not in (None, "@auto"):
                assert UNITS[target].dimension == unit.dimension, unit.key


@settings(max_examples=200, deadline=None)
@given(
    value=st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
    pair=st.sampled_from(
        [("km", "mi"), ("kg", "lb"), ("l", "gal"), ("m2", "acre"), ("km/h", "knot"), ("gb", "gib")]
    ),
)
def test_conversions_round_trip(value: float, pair: tuple[str, str]) -> None:
    source, target = UNITS[pair[0]], UNITS[pair[1]]
    back = convert(convert(value, source, target), target, source)
    assert back == pytest.approx(value, rel=1e-9, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(celsius=st.floats(min_value=-273.15, max_value=1e6, allow_nan=False))
def test_temperatures_round_trip(celsius: float) -> None:
    c, f, k = UNITS["celsius"], UNITS["fahrenheit"], UNITS["kelvin"]
    assert convert(convert(celsius, c, f), f, c) == pytest.approx(celsius, abs=1e-6)
    assert convert(celsius, c, k) == pytest.approx(celsius + 273.15)


# ---------------------------------------------------------------- the calculator


@pytest.mark.parametrize(
    ("expression", "said"),
    [
        ("2 + 2", "2 + 2 = 4"),
        ("0.1 + 0.2", "0.1 + 0.2 = 0.3"),
        ("12.5 * (3 + 4) / 2", "12.5 * (3 + 4) / 2 = 43.75"),
        ("10 / 3", "10 / 3 = 3.333333333"),
        ("7 // 2", "7 // 2 = 3"),
        ("17 % 5", "17 % 5 = 2"),
        ("2^10", "2**10 = 1,024"),
        ("2 ** -2", "2 ** -2 = 0.25"),
        ("-(3 - 5) * +2", "-(3 - 5) * +2 = 4"),
        ("6 × 7 ÷ 2", "6 * 7 / 2 = 21"),
        ("1,000,000 - 1", None),
        ("sqrt(2)", "sqrt(2) = 1.414213562"),
        ("round(2.5)", "round(2.5) = 3"),
        ("round(2.675, 2)", "round(2.675, 2) = 2.68"),
        ("round(1234, -2)", "round(1234, -2) = 1,200"),
        ("log(8, 2)", "log(8, 2) = 3"),
        ("max(3, 9, 4) - min(3, 9, 4)", "max(3, 9, 4) - min(3, 9, 4) = 6"),
        ("2 * pi", "2 * pi = 6.283185307"),
        ("0.15 * 240", "0.15 * 240 = 36"),
        ("2 ** 100", "2 ** 100 = about 1.26765 × 10^30"),
        ("factorial(20)", "factorial(20) = about 2.432902 × 10^18"),
        ("1e10 / 3", "1e10 / 3 = 3,333,333,333"),
        ("999999999999999", "999999999999999 = 999,999,999,999,999"),
        ("1e13 / 3", "1e13 / 3 = 3.333333333 trillion"),
        ("2 + 2 =", "2 + 2 = 4"),
    ],
)
async def test_arithmetic(expression: str, said: str | None) -> None:
    if said is None:
        with pytest.raises(CalculationError):
            await calc(expression)
        return
    assert await calc(expression) == said


@pytest.mark.parametrize(
    ("expression", "message"),  # every refusal is a sentence, never a traceback
    [
        ("", "I need something to calculate."),
        ("1 / 0", "That divides by zero, which has no answer."),
        ("5 % 0", "That divides by zero, which has no answer."),
        ("9 ** 9 ** 9", "That number is too large to work out."),
        ("10 ** 100000", "That number is too large to work out."),
        ("(2 ** 9000) * (2 ** 9000)", "That number is too large to work out."),
        ("1e308 * 10", "That number is too large to work out."),
        ("exp(1000)", "That number is too large to work out."),
        ("factorial(1000)", "That number is too large to work out."),
        ("(-8) ** (1 / 3)", "That has no real-number answer."),
        ("sqrt(-1)", "sqrt isn't defined for that value."),
        ("log(0)", "log isn't defined for that value."),
        ("factorial(2.5)", "factorial needs a whole number that isn't negative."),
        ("round(2.5, 100)", "round takes a whole number of digits up to 15."),
        ("sqrt(1, 2)", "sqrt takes 1 to 1 numbers."),
        ("x + 1", "I don't know what x means in a calculation."),
        ("open('/etc/passwd')", "I don't know the function open."),
        ("__import__('os').system('echo hi')", GENERIC),
        ("__import__('os')", "I don't know the function __import__."),
        ("math.sqrt(4)", GENERIC),
        ("(1).__class__", GENERIC),
        ("[1, 2]", GENERIC),
        ("'a' * 3", GENERIC),
        ("True + 1", GENERIC),
        ("2j * 2", GENERIC),
        ("lambda: 1", GENERIC),
        ("x if 1 else 2", GENERIC),
        ("1 < 2", GENERIC),
        ("1 << 100", GENERIC),
        ("sqrt(*[4])", GENERIC),
        ("round(2.5, ndigits=1)", GENERIC),
        ("(1", "I couldn't read that as arithmetic; write it like 12 * (3 + 4) / 2."),
        ("1 +", "I couldn't read that as arithmetic; write it like 12 * (3 + 4) / 2."),
        ("9" * 201, "That expression is too long for me (over 200 characters)."),
    ],
)
async def test_refusals(expression: str, message: str) -> None:
    with pytest.raises(CalculationError) as caught:
        await calc(expression)
    assert caught.value.message == message


def test_deep_nesting_within_the_length_limit_still_works() -> None:
    assert calculate("(" * 90 + "1 + 1" + ")" * 90) == 2


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789+-*/%().^ eEpisqrtlogfacx,", max_size=60))
def test_any_input_gives_a_number_or_a_sentence(expression: str) -> None:
    try:
        value = calculate(expression)
    except CalculationError as exc:
        assert exc.message
        return
    assert isinstance(value, int | float) and not isinstance(value, bool)
    assert format_result(value)


def test_text_python_only_warns_about_is_refused_without_a_warning() -> None:
    # "1and 2" and "2if 1 else 3" parse with a SyntaxWarning that would be printed over the
    # user's screen; they are not arithmetic.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for text in ("1and 2", "2if 1 else 3", "0x1for"):
            with pytest.raises(CalculationError, match="couldn't read that as arithmetic"):
                calculate(text)
    assert [str(w.message) for w in caught] == []


def test_number_formatting() -> None:
    assert spoken_number(0) == "0"
    assert spoken_number(-0.00001234) == "-0.00001234"
    assert spoken_number(6.2e-9) == "6.2 × 10^-9"
    assert spoken_number(62_137_119) == "62.14 million"
    assert spoken_number(1.5e20) == "1.5 × 10^20"
    assert format_result(-(10**20)) == "about -1 × 10^20"
    assert format_result(4.0) == "4"


# ---------------------------------------------------------------- wiring


def test_schemas_progress_and_metadata() -> None:
    tools = tools_for()
    assert sorted(tools) == ["calculate_expression", "convert_units"]
    assert not any(tool.side_effect for tool in tools.values())
    schema = function_tool(tools["convert_units"].func).params_json_schema
    assert schema["properties"]["value"]["type"] == "number"
    assert sorted(schema["properties"]) == ["from_unit", "to_unit", "value"]
    assert (
        render_progress(tools["convert_units"].progress, {"value": 5, "from_unit": "km"})
        == "Converting 5 km..."
    )
    assert (
        render_progress(tools["calculate_expression"].progress, {"expression": "2+2"})
        == "Working out 2+2..."
    )
    assert CONNECTOR.requires_secrets == ()


def test_examples_are_answerable() -> None:
    args: dict[str, Any] = {"value": 1, "from_unit": "km", "to_unit": "mi"}
    for template in CONNECTOR.followups:
        assert "…" not in render_progress(template, args)
