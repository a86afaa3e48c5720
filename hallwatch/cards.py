"""Card numbers: one card, one number, however a reader or a registry prints it.

A card's identity is the number its UID bytes make. Readers print it as hex
(`04A1B2C3`, `04:a1:b2:c3`, `0x04A1B2C3`), as a decimal number (Wiegand readers,
the ten digits printed on 125 kHz ID cards: `0009357203`), and some readers in
the reverse byte order. Case, separators and leading zeros never matter.

The canonical form every part of HallWatch stores and compares is `card_hex`:
upper-case hex, zero-padded to whole bytes (`8EC793`, `04A1B2C3`). Registries
write hex or `dec:` followed by the decimal number.
"""

from __future__ import annotations

import re

DECIMAL_PREFIX = "dec:"
MAX_HEX_DIGITS = 32  # ISO 14443 UIDs are at most 10 bytes (20 digits); room, but no junk
MAX_DECIMAL_DIGITS = 39  # 2**128 has 39 digits: the same bound as MAX_HEX_DIGITS
SEPARATORS = " :-"
_HEX = re.compile(r"[0-9A-F]+")
_DIGITS = re.compile(r"[0-9]+")
_STRIP = str.maketrans("", "", SEPARATORS)
_CANONICAL = re.compile(r"(?!00.)(?:[0-9A-F]{2})+")  # what card_hex writes


class CardError(ValueError):
    """Text that is not a card number; the message says why (without quoting the text)."""


def card_number(text: str, decimal: bool = False) -> int:
    """The card's number from hex text, `0x` hex, or `dec:` digits; with `decimal`, text
    without either prefix is a decimal number (a reader that prints them so)."""
    cleaned = text.strip()
    if cleaned[: len(DECIMAL_PREFIX)].lower() == DECIMAL_PREFIX:
        return _decimal(cleaned[len(DECIMAL_PREFIX) :].strip())
    hexed = cleaned[:2].lower() == "0x"
    if decimal and not hexed:
        return _decimal(cleaned)
    digits = cleaned[2:] if hexed else cleaned
    digits = digits.translate(_STRIP).upper()
    if not digits:
        raise CardError("is empty")
    if len(digits) > MAX_HEX_DIGITS or not _HEX.fullmatch(digits):
        raise CardError(f"is not a card number in hex (at most {MAX_HEX_DIGITS} digits)")
    return int(digits, 16)


def _decimal(digits: str) -> int:
    if not digits:
        raise CardError("is empty")
    if len(digits) > MAX_DECIMAL_DIGITS or not _DIGITS.fullmatch(digits):
        raise CardError(f"is not a decimal card number (at most {MAX_DECIMAL_DIGITS} digits)")
    return int(digits)


def printed_bytes(text: str) -> int:
    """How many bytes a hex text prints, leading zero bytes included (0 for `dec:` text)."""
    cleaned = text.strip()
    if cleaned[: len(DECIMAL_PREFIX)].lower() == DECIMAL_PREFIX:
        return 0
    digits = cleaned[2:] if cleaned[:2].lower() == "0x" else cleaned
    return (len(digits.translate(_STRIP)) + 1) // 2


def card_hex(number: int, width_bytes: int = 0) -> str:
    """The canonical text of a card: upper-case hex in whole bytes (at least `width_bytes`)."""
    digits = f"{number:X}"
    width = max(len(digits) + len(digits) % 2, 2 * width_bytes)
    return digits.rjust(width, "0")


def card_decimal(number: int) -> str:
    """The card as the decimal number printed on 125 kHz ID cards (ten digits at least)."""
    return f"{number:010d}"


def reversed_bytes(number: int, width_bytes: int = 0) -> int:
    """The number of the same bytes in the other order (readers that print UIDs backwards)."""
    text = card_hex(number, width_bytes)
    return int("".join(reversed([text[i : i + 2] for i in range(0, len(text), 2)])), 16)


def canonical(text: str, decimal: bool = False) -> str:
    """`card_hex` of a card written as text; CardError when it is not a card number."""
    return card_hex(card_number(text, decimal))


def canonical_or_none(text: object) -> str | None:
    """`canonical` for look-ups of stored or typed values: None instead of an error."""
    if not isinstance(text, str):
        return None
    if _CANONICAL.fullmatch(text):
        return text  # already canonical: how the registry and the store keep cards
    try:
        return canonical(text)
    except CardError:
        return None


def printed_number(text: object) -> str | None:
    """The ten-digit decimal a card written as `text` has printed on it (None: not a card)."""
    card = canonical_or_none(text)
    return card_decimal(int(card, 16)) if card else None
