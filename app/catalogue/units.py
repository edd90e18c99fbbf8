"""Quantities in catalogue values and questions: "1.6 kg", "58g", "2米", "20000mAh", "两万毫安".

Every unit maps to a dimension and a factor to that dimension's base unit, so "under 2 kg"
compares with "1600 g" and "1.2 L" with "800 ml". Units come from a value's own text or from
its attribute name ("width_cm", "weight_kg"); nothing here knows a particular shop.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# unit word -> (dimension, factor to the base unit). Lower-case; longest alternatives first in the regex.
UNITS: dict[str, tuple[str, float]] = {
    "mm": ("length", 1), "毫米": ("length", 1), "cm": ("length", 10), "厘米": ("length", 10),
    "公分": ("length", 10), "m": ("length", 1000), "米": ("length", 1000), "metre": ("length", 1000),
    "meter": ("length", 1000), "metres": ("length", 1000), "meters": ("length", 1000),
    "in": ("length", 25.4), "inch": ("length", 25.4), "inches": ("length", 25.4),
    "ft": ("length", 304.8), "feet": ("length", 304.8),
    "g": ("mass", 1), "克": ("mass", 1), "kg": ("mass", 1000), "千克": ("mass", 1000), "公斤": ("mass", 1000),
    "斤": ("mass", 500), "lb": ("mass", 453.6), "lbs": ("mass", 453.6), "pound": ("mass", 453.6),
    "pounds": ("mass", 453.6),
    "ml": ("volume", 1), "毫升": ("volume", 1), "l": ("volume", 1000), "升": ("volume", 1000),
    "litre": ("volume", 1000), "liter": ("volume", 1000), "litres": ("volume", 1000), "liters": ("volume", 1000),
    "mah": ("charge", 1), "毫安": ("charge", 1), "毫安时": ("charge", 1), "ah": ("charge", 1000),
    "w": ("power", 1), "瓦": ("power", 1), "kw": ("power", 1000), "watt": ("power", 1), "watts": ("power", 1),
    "pa": ("pressure", 1),
    "h": ("time", 60), "hr": ("time", 60), "hrs": ("time", 60), "hour": ("time", 60), "hours": ("time", 60),
    "小时": ("time", 60), "min": ("time", 1), "mins": ("time", 1), "minutes": ("time", 1), "分钟": ("time", 1),
    "㎡": ("area", 1), "m2": ("area", 1), "m²": ("area", 1), "sqm": ("area", 1), "平米": ("area", 1),
    "平方米": ("area", 1), "平方": ("area", 1), "平": ("area", 1),
    "°c": ("temperature", 1), "℃": ("temperature", 1), "c": ("temperature", 1),
}
# Units that only count when written right after a number ("2 in" is not "in the box").
_BARE_UNSAFE = {"in", "m", "l", "h", "c", "平", "ft", "w", "g"}
_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_CN_SCALE = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_NUMBER = r"(\d+(?:[.,]\d+)*(?:\.\d+)?|[零一二两俩三四五六七八九十百千万]+)"
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
# A number, an optional Chinese scale word ("2万"), then a unit.
_QUANTITY = re.compile(r"(?<![A-Za-z0-9.])([-−])?" + _NUMBER + r"\s*(万|千)?\s*(" + _UNIT_ALT + r")(?![a-z])", re.I)


@dataclass(frozen=True)
class Quantity:
    """A number with its unit: ``value`` in the unit written, ``base`` in the dimension's base unit."""

    value: float
    unit: str
    dimension: str
    base: float


def number(text: str) -> float | None:
    """"1,500" -> 1500, "2.5" -> 2.5, "两万" -> 20000, "五百" -> 500; None when not a number."""
    text = text.strip()
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", text):
        return float(text.replace(",", ""))
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if re.fullmatch(r"\d+,\d+", text):  # a decimal comma ("1,5")
        return float(text.replace(",", "."))
    if text and all(ch in _CN_DIGITS or ch in _CN_SCALE for ch in text):
        return _chinese(text)
    return None


def _chinese(text: str) -> float | None:
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch == "万":
            total = (total + section + (digit or 0)) * 10000
            section, digit = 0, None
        else:
            section += (1 if digit is None else digit) * _CN_SCALE[ch]
            digit = None
    value = total + section + (digit or 0)
    return float(value) if value or text.startswith("零") else None


def unit_of(word: str) -> tuple[str, float] | None:
    """The dimension and factor of a unit word ("kg", "毫升"), or None."""
    return UNITS.get(word.lower())


def amount(sign: str | None, digits: str, scale: str | None) -> float | None:
    """A matched number with its sign and Chinese scale word ("-", "10"; "2", "万" -> 20000)."""
    value = number(digits)
    if value is None:
        return None
    if scale:
        value *= 10000 if scale == "万" else 1000
    return -value if sign else value


def quantities(text: str) -> list[Quantity]:
    """Every number-with-unit in ``text``, in order."""
    out = []
    for m in _QUANTITY.finditer(text):
        value = amount(m.group(1), m.group(2), m.group(3))
        if value is None:
            continue
        unit = m.group(4).lower()
        dimension, factor = UNITS[unit]
        out.append(Quantity(value, unit, dimension, value * factor))
    return out


def key_unit(key: str) -> str | None:
    """The unit an attribute name declares ("width_cm" -> "cm", "weight_kg" -> "kg"), or None."""
    parts = re.split(r"[_\-\s()（）]+", key.lower().strip())
    for part in reversed([p for p in parts if p]):
        if part in UNITS and part not in ("in", "c", "h", "l", "m", "平"):
            return part
        break
    return None


def value_quantity(value: str, key: str = "") -> Quantity | None:
    """The quantity an attribute value states: its own unit ("58g"), or the key's for a bare
    number (``width_cm`` = "210"). None for values that are not one quantity ("USB-C×2")."""
    found = quantities(value)
    if found:
        return found[0]
    unit = key_unit(key)
    amount = number(value)
    if unit and amount is not None:
        dimension, factor = UNITS[unit]
        return Quantity(amount, unit, dimension, amount * factor)
    return None
