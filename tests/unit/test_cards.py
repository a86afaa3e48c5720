"""A card is a number: however a reader or a registry prints it, one card is one holder."""

from __future__ import annotations

import pytest

from hallwatch.cards import (
    CardError,
    canonical,
    canonical_or_none,
    card_decimal,
    card_hex,
    card_number,
    printed_bytes,
    reversed_bytes,
)


@pytest.mark.parametrize("written", ["008EC793", "8ec793", "dec:9357203", "dec:0009357203"])
def test_the_contracts_three_spellings_are_one_card(written):
    # docs/REGISTRY.md "Cards"; 008EC793 is Tasmota's own RDM6300 example (xsns_51_rdm6300.ino,
    # frame 02-14-008EC793-CE-03), printed on the card as 0009357203.
    assert canonical(written) == "8EC793"


@pytest.mark.parametrize(
    "written", ["04A1B2C3", "04a1b2c3", "04:A1:B2:C3", "04-a1-b2-c3", " 04 A1 B2 C3 ", "0x04A1B2C3"]
)
def test_separators_case_and_0x_do_not_change_the_card(written):
    assert canonical(written) == "04A1B2C3"


def test_the_canonical_form_is_whole_bytes_of_hex():
    assert card_hex(0x4A1B2C3) == "04A1B2C3"
    assert card_hex(0) == "00"
    assert card_hex(0x8EC793, width_bytes=4) == "008EC793"


def test_the_printed_decimal_has_ten_digits():
    assert card_decimal(0x008EC793) == "0009357203"
    assert card_decimal(card_number("51E69621")) == "1374066209"


def test_a_reader_printing_bytes_backwards_is_turned_round():
    # OCA/hr#619: an RC522 read 51e69621, a USB desktop reader showed 0563537489 for the
    # same card: 563537489 is 0x2196E651, the same four bytes the other way round.
    assert reversed_bytes(563537489) == card_number("51E69621")
    # monkeyboard/Wiegand-Protocol-Library-for-Arduino#56: Wiegand-34 7186A61E, MFRC522 1EA68671.
    assert card_hex(reversed_bytes(0x7186A61E)) == "1EA68671"


def test_reversing_keeps_leading_zero_bytes_when_the_width_is_known():
    assert card_hex(reversed_bytes(0x123456, width_bytes=4)) == "56341200"
    assert card_hex(reversed_bytes(0x123456)) == "563412"


def test_the_bytes_a_text_prints_count_its_leading_zeros():
    assert printed_bytes("0034AB12") == 4 and printed_bytes("00:34:ab:12") == 4
    assert printed_bytes("8EC793") == 3 and printed_bytes("0x4A1B2C3") == 4
    assert printed_bytes("dec:0009357203") == 0


def test_decimal_text_is_read_as_decimal_only_when_asked():
    assert card_number("1539623", decimal=True) == 1539623
    assert card_number("1539623") == 0x1539623
    assert card_number("0x1779BE", decimal=True) == 0x1779BE  # 0x is always hex


@pytest.mark.parametrize(
    ("written", "fragment"),
    [
        ("", "is empty"),
        ("dec:", "is empty"),
        ("04ZZ", "not a card number in hex"),
        ("dec:12a", "not a decimal card number"),
        ("A" * 33, "at most 32 digits"),
        ("dec:" + "9" * 40, "at most 39 digits"),
        ("张三", "not a card number in hex"),
    ],
)
def test_what_is_not_a_card_is_refused(written, fragment):
    with pytest.raises(CardError, match=fragment):
        card_number(written)


def test_look_ups_of_stored_values_never_raise():
    assert canonical_or_none("008EC793") == "8EC793"
    assert canonical_or_none("00") == "00" and canonical_or_none("0004") == "04"
    assert (
        canonical_or_none("04A1B2C3") == "04A1B2C3" and canonical_or_none("4A1B2C3") == "04A1B2C3"
    )
    assert canonical_or_none("not a card") is None
    assert canonical_or_none(None) is None
