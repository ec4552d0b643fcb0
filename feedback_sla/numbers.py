"""Whole numbers within bounds, from text a person typed (a form, a command, a CSV file)."""

from __future__ import annotations


def whole_number(text: str | int, low: int, high: int, *, unit: str = "") -> int:
    """``text`` as a whole number from ``low`` to ``high``; ValueError says what is wrong.

    ``unit`` ("business days") is named in the messages.
    """
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number" + (f" of {unit}" if unit else "")) from None
    if not low <= value <= high:
        raise ValueError((f"{unit} " if unit else "") + f"must be between {low} and {high}, got {value}")
    return value
