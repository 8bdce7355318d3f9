"""Unit conversion and arithmetic, worked out locally: no network, no key.

Conversions cover length, mass, volume, temperature, speed, area, data sizes and time. Units
are recognised in the forms people say and type ("km/h", "miles per hour", "sq ft", "°F",
"kilos"). When no target unit is given, a unit converts to its usual counterpart in the other
system (km -> miles, °F -> °C); units that belong to neither system (kelvin, knots, m/s) go to
the one the user set in ``settings.units``, and data sizes and durations go to the most
readable size ("1,500 MB" -> "1.5 gigabytes").

The calculator parses with ``ast`` and walks the tree itself: only numbers, + - * / // % **,
unary signs, brackets, a few named constants (pi, e, tau) and functions (sqrt, round, log,
sin, ...) are allowed, and powers, integer sizes and the expression's length are bounded, so
no input can run code or make the machine compute for minutes. ``eval`` is never used.
"""

from __future__ import annotations

import ast
import decimal
import math
import operator
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from src.connectors.base import Connector, ConnectorContext, ConnectorError, ToolDef

NAME = "unit_convert"
TITLE = "Units and maths"
MAX_EXPRESSION_CHARS = 200
MAX_INT_BITS = 10_000  # about 3,000 digits
MAX_EXPONENT = 10_000
MAX_FACTORIAL = 500
MAX_ROUND_DIGITS = 15
MAX_ARGUMENTS = 10
ABSOLUTE_ZERO_TOLERANCE = 1e-9

AUTO = "@auto"  # default target: the most readable unit of the same family


@dataclass(frozen=True)
class Unit:
    key: str
    dimension: str
    factor: float  # size in the dimension's base unit; unused for temperature
    singular: str
    plural: str
    system: str | None = None
    counterpart: str | tuple[str, str] | None = None  # a key, or (metric user, imperial user)
    family: str = ""  # for AUTO: units that may be picked as the most readable


_M, _I = "metric", "imperial"
_INCH = 0.0254
_FOOT = 0.3048
_YARD = 0.9144
_MILE = 1609.344
_US_GALLON = 3.785411784
_US_FLOZ = _US_GALLON / 128

_UNIT_TABLE: tuple[Unit, ...] = (
    # length, in metres
    Unit("m", "length", 1.0, "meter", "meters", _M, "ft"),
    Unit("km", "length", 1000.0, "kilometer", "kilometers", _M, "mi"),
    Unit("cm", "length", 0.01, "centimeter", "centimeters", _M, "in"),
    Unit("mm", "length", 0.001, "millimeter", "millimeters", _M, "in"),
    Unit("um", "length", 1e-6, "micrometer", "micrometers", _M, "in"),
    Unit("nm", "length", 1e-9, "nanometer", "nanometers", _M, None),
    Unit("in", "length", _INCH, "inch", "inches", _I, "cm"),
    Unit("ft", "length", _FOOT, "foot", "feet", _I, "m"),
    Unit("yd", "length", _YARD, "yard", "yards", _I, "m"),
    Unit("mi", "length", _MILE, "mile", "miles", _I, "km"),
    Unit("nmi", "length", 1852.0, "nautical mile", "nautical miles", None, ("km", "mi")),
    Unit("ly", "length", 9.4607304725808e15, "light year", "light years", None, ("km", "mi")),
    # mass, in kilograms
    Unit("kg", "mass", 1.0, "kilogram", "kilograms", _M, "lb"),
    Unit("g", "mass", 0.001, "gram", "grams", _M, "oz"),
    Unit("mg", "mass", 1e-6, "milligram", "milligrams", _M, None),
    Unit("t", "mass", 1000.0, "tonne", "tonnes", _M, "ton"),
    Unit("lb", "mass", 0.45359237, "pound", "pounds", _I, "kg"),
    Unit("oz", "mass", 0.028349523125, "ounce", "ounces", _I, "g"),
    Unit("st", "mass", 6.35029318, "stone", "stone", _I, "kg"),
    Unit("ton", "mass", 907.18474, "US ton", "US tons", _I, "t"),
    Unit("longton", "mass", 1016.0469088, "long ton", "long tons", _I, "t"),
    # volume, in litres
    Unit("l", "volume", 1.0, "liter", "liters", _M, "gal"),
    Unit("ml", "volume", 0.001, "milliliter", "milliliters", _M, "floz"),
    Unit("cl", "volume", 0.01, "centiliter", "centiliters", _M, "floz"),
    Unit("dl", "volume", 0.1, "deciliter", "deciliters", _M, "cup"),
    Unit("m3", "volume", 1000.0, "cubic meter", "cubic meters", _M, "ft3"),
    Unit("cm3", "volume", 0.001, "cubic centimeter", "cubic centimeters", _M, "floz"),
    Unit("gal", "volume", _US_GALLON, "US gallon", "US gallons", _I, "l"),
    Unit("impgal", "volume", 4.54609, "imperial gallon", "imperial gallons", _I, "l"),
    Unit("qt", "volume", _US_GALLON / 4, "US quart", "US quarts", _I, "l"),
    Unit("pt", "volume", _US_GALLON / 8, "US pint", "US pints", _I, "ml"),
    Unit("imppt", "volume", 0.56826125, "imperial pint", "imperial pints", _I, "ml"),
    Unit("cup", "volume", _US_GALLON / 16, "US cup", "US cups", _I, "ml"),
    Unit("floz", "volume", _US_FLOZ, "US fluid ounce", "US fluid ounces", _I, "ml"),
    Unit("tbsp", "volume", _US_FLOZ / 2, "tablespoon", "tablespoons", _I, "ml"),
    Unit("tsp", "volume", _US_FLOZ / 6, "teaspoon", "teaspoons", _I, "ml"),
    Unit("ft3", "volume", _FOOT**3 * 1000, "cubic foot", "cubic feet", _I, "m3"),
    Unit("in3", "volume", _INCH**3 * 1000, "cubic inch", "cubic inches", _I, "cm3"),
    # temperature (converted through kelvin, see _to_kelvin)
    Unit("celsius", "temperature", 1.0, "degree Celsius", "degrees Celsius", _M, "fahrenheit"),
    Unit(
        "fahrenheit", "temperature", 1.0, "degree Fahrenheit", "degrees Fahrenheit", _I, "celsius"
    ),
    Unit("kelvin", "temperature", 1.0, "kelvin", "kelvin", None, ("celsius", "fahrenheit")),
    # speed, in metres per second
    Unit("m/s", "speed", 1.0, "meter per second", "meters per second", _M, ("km/h", "mph")),
    Unit("km/h", "speed", 1 / 3.6, "kilometer per hour", "kilometers per hour", _M, "mph"),
    Unit("mph", "speed", _MILE / 3600, "mile per hour", "miles per hour", _I, "km/h"),
    Unit("knot", "speed", 1852 / 3600, "knot", "knots", None, ("km/h", "mph")),
    Unit("ft/s", "speed", _FOOT, "foot per second", "feet per second", _I, "m/s"),
    # area, in square metres
    Unit("m2", "area", 1.0, "square meter", "square meters", _M, "ft2"),
    Unit("km2", "area", 1e6, "square kilometer", "square kilometers", _M, "mi2"),
    Unit("cm2", "area", 1e-4, "square centimeter", "square centimeters", _M, "in2"),
    Unit("ha", "area", 1e4, "hectare", "hectares", _M, "acre"),
    Unit("acre", "area", 4046.8564224, "acre", "acres", _I, "ha"),
    Unit("ft2", "area", _FOOT**2, "square foot", "square feet", _I, "m2"),
    Unit("in2", "area", _INCH**2, "square inch", "square inches", _I, "cm2"),
    Unit("yd2", "area", _YARD**2, "square yard", "square yards", _I, "m2"),
    Unit("mi2", "area", _MILE**2, "square mile", "square miles", _I, "km2"),
    # data, in bytes: decimal (SI) and binary (IEC) multiples, and bits
    Unit("bit", "data", 0.125, "bit", "bits", None, AUTO),
    Unit("byte", "data", 1.0, "byte", "bytes", None, AUTO, "bytes"),
    Unit("kb", "data", 1e3, "kilobyte", "kilobytes", None, AUTO, "bytes"),
    Unit("mb", "data", 1e6, "megabyte", "megabytes", None, AUTO, "bytes"),
    Unit("gb", "data", 1e9, "gigabyte", "gigabytes", None, AUTO, "bytes"),
    Unit("tb", "data", 1e12, "terabyte", "terabytes", None, AUTO, "bytes"),
    Unit("pb", "data", 1e15, "petabyte", "petabytes", None, AUTO, "bytes"),
    Unit("kib", "data", 2.0**10, "kibibyte", "kibibytes", None, AUTO),
    Unit("mib", "data", 2.0**20, "mebibyte", "mebibytes", None, AUTO),
    Unit("gib", "data", 2.0**30, "gibibyte", "gibibytes", None, AUTO),
    Unit("tib", "data", 2.0**40, "tebibyte", "tebibytes", None, AUTO),
    Unit("kbit", "data", 125.0, "kilobit", "kilobits", None, AUTO),
    Unit("mbit", "data", 125e3, "megabit", "megabits", None, AUTO),
    Unit("gbit", "data", 125e6, "gigabit", "gigabits", None, AUTO),
    # time, in seconds
    Unit("ms", "time", 0.001, "millisecond", "milliseconds", None, AUTO, "time"),
    Unit("s", "time", 1.0, "second", "seconds", None, AUTO, "time"),
    Unit("min", "time", 60.0, "minute", "minutes", None, AUTO, "time"),
    Unit("h", "time", 3600.0, "hour", "hours", None, AUTO, "time"),
    Unit("day", "time", 86400.0, "day", "days", None, AUTO, "time"),
    Unit("week", "time", 604800.0, "week", "weeks", None, AUTO, "time"),
    Unit("year", "time", 31557600.0, "year", "years", None, AUTO, "time"),
)
# Other names each unit goes by, beyond its key, singular and plural.
_OTHER_NAMES: Mapping[str, str] = {
    "m": "metre|metres|mtr",
    "km": "kilometre|kilometres|kms|klick",
    "cm": "centimetre|centimetres",
    "mm": "millimetre|millimetres",
    "um": "micron|microns|micrometre|micrometres",
    "nm": "nanometre|nanometres",
    "in": '"|ins',
    "ft": "'|foots",
    "yd": "yds",
    "mi": "statute mile",
    "nmi": "nmile",
    "ly": "lightyear|light-year",
    "kg": "kilo|kilos|kgs|kilogramme",
    "g": "gramme|grammes|gr",
    "mg": "milligramme",
    "t": "metric ton|metric tons|metric tonne",
    "lb": "lbs|lbm",
    "oz": "ozs",
    "st": "stones",
    "ton": "short ton|short tons|tons|us ton",
    "longton": "imperial ton|uk ton",
    "l": "litre|litres|ltr",
    "ml": "millilitre|millilitres|mls",
    "cl": "centilitre|centilitres",
    "dl": "decilitre|decilitres",
    "m3": "cubic metre|cubic metres|cbm",
    "cm3": "cc|ccs|cubic centimetre|cubic centimetres",
    "gal": "gallon|gallons|gals|us gallon",
    "impgal": "uk gallon|uk gallons",
    "qt": "quart|quarts|qts",
    "pt": "pint|pints|pts",
    "imppt": "uk pint|uk pints",
    "cup": "cups",
    "floz": "fluid ounce|fluid ounces|fl oz",
    "tbsp": "tbs|tbl|tblsp",
    "tsp": "tsps",
    "ft3": "cu ft|cubic ft",
    "in3": "cu in|cubic in",
    "celsius": "c|centigrade|degc",
    "fahrenheit": "f|degf",
    "kelvin": "k|kelvins",
    "m/s": "mps|metre per second|metres per second|m per s",
    "km/h": "kph|kmh|kmph|km per hour|kilometre per hour|kilometres per hour|km/hr",
    "mph": "mi/h|mi/hr|mile an hour|miles an hour",
    "knot": "kn|kt|kts",
    "ft/s": "fps|ft per s",
    "m2": "sq m|sqm|square metre|square metres",
    "km2": "sq km|square kilometre|square kilometres",
    "cm2": "sq cm|square centimetre|square centimetres",
    "ha": "hectar",
    "acre": "ac",
    "ft2": "sq ft|sqft|sf",
    "in2": "sq in",
    "yd2": "sq yd",
    "mi2": "sq mi",
    "bit": "b",
    "byte": "B",
    "kb": "kbyte",
    "mb": "mbyte|megs",
    "gb": "gbyte|gigs|gig",
    "tb": "tbyte",
    "kbit": "kbits",
    "mbit": "mbits",
    "gbit": "gbits",
    "ms": "msec|msecs",
    "s": "sec|secs",
    "min": "mins",
    "h": "hr|hrs",
    "day": "d",
    "week": "wk|wks",
    "year": "yr|yrs",
}

UNITS: Mapping[str, Unit] = {unit.key: unit for unit in _UNIT_TABLE}
_CASE_SENSITIVE: Mapping[str, str] = {"B": "byte", "b": "bit"}


def _alias_index() -> dict[str, str]:
    """Every lower-cased name of every unit -> the unit's key (the first unit wins a name)."""
    index: dict[str, str] = {}
    for unit in _UNIT_TABLE:
        names = (unit.key, unit.singular, unit.plural, *_OTHER_NAMES.get(unit.key, "").split("|"))
        for name in names:
            if name and name not in _CASE_SENSITIVE:
                index.setdefault(name.lower(), unit.key)
    return index


_ALIASES: Mapping[str, str] = _alias_index()

DIMENSION_WORDS: Mapping[str, str] = {
    "length": "a length",
    "mass": "a weight",
    "volume": "a volume",
    "temperature": "a temperature",
    "speed": "a speed",
    "area": "an area",
    "data": "a data size",
    "time": "a duration",
}


def _clean_unit_text(text: str) -> str:
    """Symbols and spacing folded: "km / h" -> "km/h", "m²" -> "m2", "°F" -> "F"."""
    text = text.strip().replace("²", "2").replace("³", "3").replace("^", "")
    text = text.replace("µ", "u").replace("μ", "u")
    text = text.replace("°", " ").replace(".", " ").replace("_", " ")
    text = re.sub(r"^(?:degrees?|deg)\s+", "", text.strip(), flags=re.IGNORECASE)
    text = re.sub(r"\s*/\s*", "/", text)
    text = re.sub(r"^(.+?)\s+squared$", r"square \1", text, flags=re.IGNORECASE)
    text = re.sub(r"^(.+?)\s+cubed$", r"cubic \1", text, flags=re.IGNORECASE)
    return " ".join(text.split())


def find_unit(text: str) -> Unit:
    """The unit a spoken or typed name denotes; ``ConnectorError`` if none."""
    cleaned = _clean_unit_text(text)
    if cleaned in _CASE_SENSITIVE:
        return UNITS[_CASE_SENSITIVE[cleaned]]
    lowered = cleaned.lower()
    lowered = re.sub(r"^sq ", "square ", lowered)
    lowered = re.sub(r"^cu ", "cubic ", lowered)
    for candidate in _candidates(lowered):
        key = _ALIASES.get(candidate)
        if key is not None:
            return UNITS[key]
    raise ConnectorError(f"I don't know the unit “{text.strip()}”.")


def _candidates(text: str) -> list[str]:
    """The text, then spellings it may stand for: "sq ft", "square feet", "meters" -> "meter"."""
    out = [text]
    if text.startswith("square "):
        rest = text.removeprefix("square ")
        out += [f"sq {rest}", f"{_ALIASES.get(rest, rest)}2"]
    if text.startswith("cubic "):
        rest = text.removeprefix("cubic ")
        out += [f"cu {rest}", f"{_ALIASES.get(rest, rest)}3"]
    for form in list(out):
        if form.endswith("es") and len(form) > 3:
            out.append(form[:-2])
        if form.endswith("s") and len(form) > 2:
            out.append(form[:-1])
    return out


def _to_kelvin(value: float, unit: Unit) -> float:
    if unit.key == "celsius":
        return value + 273.15
    if unit.key == "fahrenheit":
        return (value - 32) * 5 / 9 + 273.15
    return value


def _from_kelvin(kelvin: float, unit: Unit) -> float:
    if unit.key == "celsius":
        return kelvin - 273.15
    if unit.key == "fahrenheit":
        return (kelvin - 273.15) * 9 / 5 + 32
    return kelvin


def convert(value: float, source: Unit, target: Unit) -> float:
    """``value`` in ``source`` expressed in ``target``; ``ConnectorError`` if incompatible."""
    if source.dimension != target.dimension:
        raise ConnectorError(
            f"I can't convert {source.plural} to {target.plural}: one is "
            f"{DIMENSION_WORDS[source.dimension]} and the other "
            f"{DIMENSION_WORDS[target.dimension]}."
        )
    if source.dimension == "temperature":
        kelvin = _to_kelvin(value, source)
        if kelvin < -ABSOLUTE_ZERO_TOLERANCE:
            raise ConnectorError(
                f"{spoken_number(value)} {source.plural} is below absolute zero, "
                "which isn't possible."
            )
        return _from_kelvin(kelvin, target)
    return value * source.factor / target.factor


def default_target(value: float, source: Unit, system: str) -> Unit:
    """The unit to convert to when the user named none (see the module docstring)."""
    counterpart = source.counterpart
    if counterpart is None:
        raise ConnectorError(f"Which unit should I convert {source.plural} to?")
    if isinstance(counterpart, tuple):
        return UNITS[counterpart[0] if system == "metric" else counterpart[1]]
    if counterpart != AUTO:
        return UNITS[counterpart]
    family = "time" if source.dimension == "time" else "bytes"
    sizes = sorted((u for u in UNITS.values() if u.family == family), key=lambda u: u.factor)
    amount = abs(value) * source.factor
    best = sizes[0]
    for unit in sizes:
        if amount >= unit.factor:
            best = unit
    if best.key == source.key:
        bigger = [u for u in sizes if u.factor > source.factor]
        smaller = [u for u in sizes if u.factor < source.factor]
        best = bigger[0] if bigger else smaller[-1]
    return best


_LARGE_NUMBERS = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"))


def spoken_number(value: float, digits: int = 4) -> str:
    """A number for speech: ``digits`` significant figures, thousands separated, no "e+20"."""
    if value == 0:
        return "0"
    if not math.isfinite(value):
        raise ConnectorError("That number is too large to work out.")
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= 15 or magnitude < -6:
        mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa} × 10^{int(exponent)}"
    for size, word in _LARGE_NUMBERS:
        if magnitude >= digits and abs(value) >= size:
            return f"{spoken_number(value / size, digits)} {word}"
    decimals = max(0, min(12, digits - 1 - magnitude))
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _name(unit: Unit, value: float) -> str:
    return unit.singular if abs(value) == 1 else unit.plural


def _system(settings: Any) -> str:
    units = str(getattr(settings, "units", "metric") or "metric").lower()
    return "imperial" if units == "imperial" else "metric"


# ---------------------------------------------------------------- the calculator

Number = int | float


class CalculationError(ConnectorError):
    """An expression that isn't allowed, or can't be worked out, in a sentence."""


_ARITHMETIC_ONLY = (
    "I can only work out arithmetic: numbers, + - * / // % **, brackets and functions "
    "such as sqrt, round, log or sin."
)
_TOO_LARGE = "That number is too large to work out."


def _guard_int(value: Number) -> Number:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise CalculationError(_TOO_LARGE)
    if isinstance(value, float):
        if math.isinf(value):
            raise CalculationError(_TOO_LARGE)
        if math.isnan(value):
            raise CalculationError("That has no defined answer.")
    return value


def _power(base: Number, exponent: Number) -> Number:
    if abs(exponent) > MAX_EXPONENT:
        raise CalculationError(_TOO_LARGE)
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and abs(base) > 1
        and base.bit_length() * exponent > MAX_INT_BITS
    ):
        raise CalculationError(_TOO_LARGE)
    result = base**exponent
    if isinstance(result, complex):
        raise CalculationError("That has no real-number answer.")
    return result


def _multiply(left: Number, right: Number) -> Number:
    if (
        isinstance(left, int)
        and isinstance(right, int)
        and left.bit_length() + right.bit_length() > MAX_INT_BITS + 1
    ):
        raise CalculationError(_TOO_LARGE)
    return left * right


_BINARY: Mapping[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: _multiply,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _power,
}
CONSTANTS: Mapping[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _round(value: Number, digits: Number = 0) -> Number:
    """Round half away from zero, as people do (2.5 -> 3, 2.675 -> 2.68), not Python's way."""
    if not isinstance(digits, int) or abs(digits) > MAX_ROUND_DIGITS:
        raise CalculationError(f"round takes a whole number of digits up to {MAX_ROUND_DIGITS}.")
    context = decimal.Context(prec=MAX_INT_BITS, rounding=decimal.ROUND_HALF_UP)
    exact = decimal.Decimal(repr(value) if isinstance(value, float) else value)
    rounded = exact.quantize(decimal.Decimal(1).scaleb(-digits), context=context)
    return int(rounded) if digits <= 0 else float(rounded)


def _factorial(value: Number) -> Number:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < 0:
        raise CalculationError("factorial needs a whole number that isn't negative.")
    if value > MAX_FACTORIAL:
        raise CalculationError(_TOO_LARGE)
    return math.factorial(value)


# name -> (function, fewest arguments, most arguments)
FUNCTIONS: Mapping[str, tuple[Callable[..., Number], int, int]] = {
    "sqrt": (math.sqrt, 1, 1),
    "cbrt": (math.cbrt, 1, 1),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "log": (math.log, 1, 2),
    "ln": (math.log, 1, 1),
    "log10": (math.log10, 1, 1),
    "log2": (math.log2, 1, 1),
    "exp": (math.exp, 1, 1),
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
    "factorial": (_factorial, 1, 1),
    "min": (min, 1, MAX_ARGUMENTS),
    "max": (max, 1, MAX_ARGUMENTS),
}


def _evaluate(node: ast.AST) -> Number:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return _guard_int(node.value)
        raise CalculationError(_ARITHMETIC_ONLY)
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise CalculationError(f"I don't know what {node.id} means in a calculation.")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        operand = _evaluate(node.operand)
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = _evaluate(node.left)
        right = _evaluate(node.right)
        try:
            return _guard_int(_BINARY[type(node.op)](left, right))
        except ZeroDivisionError as exc:
            raise CalculationError("That divides by zero, which has no answer.") from exc
        except OverflowError as exc:
            raise CalculationError(_TOO_LARGE) from exc
    if isinstance(node, ast.Call):
        return _call(node)
    raise CalculationError(_ARITHMETIC_ONLY)


def _call(node: ast.Call) -> Number:
    if not isinstance(node.func, ast.Name):
        raise CalculationError(_ARITHMETIC_ONLY)
    if node.func.id not in FUNCTIONS:
        raise CalculationError(f"I don't know the function {node.func.id}.")
    if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
        raise CalculationError(_ARITHMETIC_ONLY)
    function, fewest, most = FUNCTIONS[node.func.id]
    if not fewest <= len(node.args) <= most:
        raise CalculationError(f"{node.func.id} takes {fewest} to {most} numbers.")
    arguments = [_evaluate(arg) for arg in node.args]
    try:
        return _guard_int(function(*arguments))
    except CalculationError:
        raise
    except ZeroDivisionError as exc:
        raise CalculationError("That divides by zero, which has no answer.") from exc
    except OverflowError as exc:
        raise CalculationError(_TOO_LARGE) from exc
    except (ValueError, TypeError) as exc:
        raise CalculationError(f"{node.func.id} isn't defined for that value.") from exc


def _normalise_expression(expression: str) -> str:
    text = expression.strip().rstrip("=? ").strip()
    for symbol, replacement in (("×", "*"), ("·", "*"), ("÷", "/"), ("−", "-"), ("^", "**")):
        text = text.replace(symbol, replacement)
    return text


def calculate(expression: str) -> Number:
    """Evaluate arithmetic safely (see the module docstring); ``CalculationError`` if not."""
    text = _normalise_expression(expression)
    if not text:
        raise CalculationError("I need something to calculate.")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise CalculationError(
            f"That expression is too long for me (over {MAX_EXPRESSION_CHARS} characters)."
        )
    try:
        # Python only warns about text such as "1and 2" (printed over the user's screen);
        # here it is not arithmetic, so the warning is the same error as any other.
        with warnings.catch_warnings():
            warnings.simplefilter("error", SyntaxWarning)
            tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        raise CalculationError(
            "I couldn't read that as arithmetic; write it like 12 * (3 + 4) / 2."
        ) from exc
    try:
        return _evaluate(tree)
    except RecursionError as exc:
        raise CalculationError("That expression is nested too deeply.") from exc


def format_result(value: Number) -> str:
    """Exact whole numbers up to 15 digits; otherwise ten significant figures."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, int):
        if abs(value) < 10**15:
            return f"{value:,}"
        digits = str(abs(value))
        mantissa = f"{digits[0]}.{digits[1:7]}".rstrip("0").rstrip(".")
        sign = "-" if value < 0 else ""
        return f"about {sign}{mantissa} × 10^{len(digits) - 1}"
    return spoken_number(value, digits=10)


# ---------------------------------------------------------------- tools


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    async def convert_units(value: float, from_unit: str, to_unit: str = "") -> str:
        """Convert an amount between units of length, weight, volume, temperature, speed,
        area, data size or time.

        Args:
            value: The amount to convert, e.g. 5.
            from_unit: The unit it is in, e.g. "km", "pounds", "°F", "mph", "square feet", "GB".
            to_unit: The unit wanted, e.g. "miles"; empty for the usual counterpart.
        """
        amount = float(value)
        if not math.isfinite(amount):
            raise ConnectorError("I need a real number to convert.")
        source = find_unit(from_unit)
        if to_unit.strip():
            target = find_unit(to_unit)
        else:
            target = default_target(amount, source, _system(ctx.settings))
        result = convert(amount, source, target)
        return (
            f"{spoken_number(amount, digits=10)} {_name(source, amount)} is "
            f"{spoken_number(result)} {_name(target, result)}."
        )

    async def calculate_expression(expression: str) -> str:
        """Work out an arithmetic expression exactly, e.g. "12.5 * (3 + 4) / 2" or "sqrt(2)".

        Args:
            expression: Numbers with + - * / // % ** (or ^), brackets, pi, e, and sqrt, cbrt,
                abs, round, floor, ceil, log, ln, log10, log2, exp, sin, cos, tan (radians),
                factorial, min, max. Write percentages as multiplication: 15% of 80 is
                0.15 * 80.
        """
        value = calculate(expression)
        return f"{_normalise_expression(expression)} = {format_result(value)}"

    return [
        ToolDef(func=convert_units, progress="Converting {value} {from_unit}..."),
        ToolDef(func=calculate_expression, progress="Working out {expression}..."),
    ]


CONNECTOR = Connector(
    name=NAME,
    title=TITLE,
    description=(
        "Converts units (kilometres and miles, kilograms and pounds, litres and gallons, "
        "Celsius and Fahrenheit, km/h and mph, square metres and feet, gigabytes, hours) and "
        "does arithmetic and maths: calculate, multiply, divide, percent, square roots."
    ),
    instructions=(
        "You convert units and do arithmetic with your tools; never do the maths in your head. "
        "For a conversion, pass the number and the units as the user said them; leave the "
        "target empty if they didn't name one. For arithmetic, write the expression with * / "
        "+ - and brackets. Say the answer in one short sentence, with the units, rounded the "
        "way the tool gives it. If a tool reports a problem, say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "How many miles is 10 kilometres?",
        "What's 72 Fahrenheit in Celsius?",
        "Convert 3 cups to millilitres.",
        "What's 15% of 240?",
        "What's the square root of 2?",
    ),
    followups=(
        "And in other units than {to_unit}?",
        "Convert {value} {to_unit} back to {from_unit}.",
    ),
)
