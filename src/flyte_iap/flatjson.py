"""JSON objects of plain values, read and written without the ``json`` module.

The cached-token fast path reads two files a process starts for: a cache entry and a
service-account key, both one JSON object of strings, numbers, booleans and nulls. The
``json`` module costs it more than the rest of the lookup (its decoder imports ``re``,
which imports ``enum``), so these two functions do the part the fast path needs:

- :func:`loads` reads such an object, strictly (RFC 8259); anything else, or anything it
  is not sure of (a nested value, a duplicate key, a number it would not read exactly as
  ``json`` does), is None, and the caller falls back to ``json``;
- :func:`dumps_sorted` writes what ``json.dumps(obj, sort_keys=True)`` writes, byte for
  byte, for such an object (None for any other).

Both are held to ``json`` by property-based tests (tests/unit/test_fuzz_flatjson.py).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

Plain = str | int | float | bool | None

_WHITESPACE = " \t\n\r"
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_DIGITS = "0123456789"
_HEX = "0123456789abcdefABCDEF"


class _Unsure(Exception):
    """Not an object of plain values that this reader reads exactly as ``json`` would."""


def loads(text: str | bytes) -> dict[str, Plain] | None:
    """The object ``text`` holds, if it is one of plain values; else None."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if text.startswith("\ufeff"):  # json.loads refuses a byte order mark
            return None
        return _Reader(text).document()
    except (_Unsure, UnicodeDecodeError, IndexError):
        return None


class _Reader:
    __slots__ = ("at", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def document(self) -> dict[str, Plain]:
        self._space()
        found = self._object()
        self._space()
        if self.at != len(self.text):
            raise _Unsure
        return found

    def _space(self) -> None:
        text, at = self.text, self.at
        while at < len(text) and text[at] in _WHITESPACE:
            at += 1
        self.at = at

    def _expect(self, char: str) -> None:
        if self.text[self.at] != char:
            raise _Unsure
        self.at += 1

    def _object(self) -> dict[str, Plain]:
        self._expect("{")
        found: dict[str, Plain] = {}
        self._space()
        if self.text[self.at] == "}":
            self.at += 1
            return found
        while True:
            self._space()
            key = self._string()
            if key in found:  # json keeps the last; a duplicate is worth the full reader
                raise _Unsure
            self._space()
            self._expect(":")
            self._space()
            found[key] = self._value()
            self._space()
            if self.text[self.at] == ",":
                self.at += 1
                continue
            self._expect("}")
            return found

    def _value(self) -> Plain:
        char = self.text[self.at]
        if char == '"':
            return self._string()
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.at):
                self.at += len(word)
                return value
        if char == "-" or char in _DIGITS:
            return self._number()
        raise _Unsure  # a nested object or list, or not JSON

    def _string(self) -> str:
        self._expect('"')
        text, at, parts = self.text, self.at, []
        while True:
            end = at
            while text[end] not in '"\\' and text[end] >= " ":
                end += 1
            parts.append(text[at:end])
            char = text[end]
            if char == '"':
                self.at = end + 1
                return "".join(parts)
            if char != "\\":
                raise _Unsure  # a control character: json refuses it too
            escape = text[end + 1]
            if escape == "u":
                code = self._hex(end + 2)
                at = end + 6
                # A surrogate pair is one character, as json reads it; a lone one stays.
                if 0xD800 <= code <= 0xDBFF and text.startswith("\\u", at):
                    low = self._hex(at + 2)
                    if 0xDC00 <= low <= 0xDFFF:
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        at += 6
                parts.append(chr(code))
            elif escape in _ESCAPES:
                parts.append(_ESCAPES[escape])
                at = end + 2
            else:
                raise _Unsure

    def _hex(self, at: int) -> int:
        code = self.text[at : at + 4]
        if len(code) != 4 or any(c not in _HEX for c in code):
            raise _Unsure
        return int(code, 16)

    def _number(self) -> int | float:
        text, start = self.text, self.at
        at = start + (text[start] == "-")
        if text[at] == "0":
            at += 1
        elif text[at] in _DIGITS:
            while at < len(text) and text[at] in _DIGITS:
                at += 1
        else:
            raise _Unsure
        whole = at
        if at < len(text) and text[at] == ".":
            at += 1
            digits = at
            while at < len(text) and text[at] in _DIGITS:
                at += 1
            if at == digits:
                raise _Unsure
        if at < len(text) and text[at] in "eE":
            at += 1
            if at < len(text) and text[at] in "+-":
                at += 1
            digits = at
            while at < len(text) and text[at] in _DIGITS:
                at += 1
            if at == digits:
                raise _Unsure
        self.at = at
        literal = text[start:at]
        if at == whole:
            if len(literal) > 4000:  # past int()'s default limit: json raises
                raise _Unsure
            return int(literal)
        return float(literal)


def dumps_sorted(obj: Mapping[str, object]) -> str | None:
    """``json.dumps(obj, sort_keys=True)`` for an object of plain values; else None."""
    try:
        items = sorted(obj.items())
    except TypeError:  # keys that do not sort: json would raise
        return None
    parts = []
    for key, value in items:
        if not isinstance(key, str):
            return None
        written = _plain(value)
        if written is None:
            return None
        parts.append(f"{_quoted(key)}: {written}")
    return "{" + ", ".join(parts) + "}"


def _plain(value: object) -> str | None:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _quoted(value)
    if type(value) is int:
        return int.__repr__(value)
    if type(value) is float:
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    return None  # a subclass, a list, a dict: json's own rules, not these


_SHORT = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _quoted(text: str) -> str:
    """As json writes a string with ``ensure_ascii``: every character outside printable
    ASCII as ``\\uXXXX`` (a surrogate pair above U+FFFF)."""
    out = ['"']
    for char in text:
        if char in _SHORT:
            out.append(_SHORT[char])
        elif " " <= char <= "~":
            out.append(char)
        else:
            code = ord(char)
            if code > 0xFFFF:
                code -= 0x10000
                out.append(f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}")
            else:
                out.append(f"\\u{code:04x}")
    out.append('"')
    return "".join(out)
