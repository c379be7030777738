"""Salesforce-style 15/18-character ids: key prefix, counter, and the case-safe suffix."""

import itertools
import re
import threading

SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_PATTERN = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")


def suffix(id15: str) -> str:
    """The 3 characters that make a 15-character id case-insensitively unique.

    Each chunk of 5 characters gives a 5-bit number, bit i set when character i is upper case.
    """
    letters = []
    for start in range(0, 15, 5):
        bits = sum(1 << i for i, char in enumerate(id15[start : start + 5]) if "A" <= char <= "Z")
        letters.append(SUFFIX_ALPHABET[bits])
    return "".join(letters)


def to_18(record_id: str) -> str:
    return record_id if len(record_id) == 18 else record_id + suffix(record_id)


def is_well_formed(record_id: str) -> bool:
    """True for a 15-character id, or an 18-character one whose suffix matches."""
    if not ID_PATTERN.match(record_id):
        return False
    return len(record_id) == 15 or record_id[15:] == suffix(record_id[:15])


def base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    return "".join(reversed(digits))


class IdMaker:
    """Makes unique 18-character ids: prefix + pod "5g" + counter, like a real org's ids."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def make(self, prefix: str) -> str:
        with self._lock:
            number = next(self._counter)
        # Mixed-case counters exercise the suffix; 10 base-62 digits never run out here.
        id15 = prefix + "5g" + base62(number * 7919, 10)
        return to_18(id15)
