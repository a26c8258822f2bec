"""Java ``SimpleDateFormat`` patterns, formatted and parsed in UTC (what Kafka's SMTs use).

Supported letters: ``G y Y M L d D E u a H k K h m s S z Z X``; ``'text'`` is literal and ``''``
a single quote. Times are formatted in UTC; parsing honours a zone (``z``, ``Z``, ``X``) if the
pattern has one, else reads UTC.

>>> import datetime as dt
>>> fmt = DateFormat("yyyy-MM-dd'T'HH:mm:ss.SSS")
>>> fmt.format(dt.datetime(2024, 3, 5, 7, 8, 9, 123000, tzinfo=dt.UTC))
'2024-03-05T07:08:09.123'
>>> fmt.parse("2024-03-05T07:08:09.123")
datetime.datetime(2024, 3, 5, 7, 8, 9, 123000, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

__all__ = ["DateFormat"]

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_NUMERIC = frozenset("yYMLdDuHkKhmsS")
_KNOWN = frozenset("GyYMLdDEuaHkKhmsSzZX")


def _tokens(pattern: str) -> list[tuple[str, int | str]]:
    """``(letter, count)`` for pattern letters and ``("'", text)`` for literal text."""
    out: list[tuple[str, int | str]] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "'":
            if i + 1 < n and pattern[i + 1] == "'":
                out.append(("'", "'"))
                i += 2
                continue
            j, text = i + 1, []
            while True:
                if j >= n:
                    raise ValueError(f"unterminated quote in date format {pattern!r}")
                if pattern[j] == "'":
                    if j + 1 < n and pattern[j + 1] == "'":
                        text.append("'")
                        j += 2
                        continue
                    break
                text.append(pattern[j])
                j += 1
            out.append(("'", "".join(text)))
            i = j + 1
        elif char.isascii() and char.isalpha():
            if char not in _KNOWN:
                raise ValueError(f"illegal pattern character {char!r} in {pattern!r}")
            j = i
            while j < n and pattern[j] == char:
                j += 1
            out.append((char, j - i))
            i = j
        else:
            out.append(("'", char))
            i += 1
    return out


class DateFormat:
    """A compiled ``SimpleDateFormat`` pattern (UTC)."""

    __slots__ = ("_regex", "_tokens", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._tokens = _tokens(pattern)
        self._regex = re.compile(self._build_regex(), re.IGNORECASE)

    def __repr__(self) -> str:
        return f"DateFormat({self.pattern!r})"

    # -- formatting ---------------------------------------------------------------------------

    def format(self, when: dt.datetime) -> str:
        """``when`` (naive = UTC) in this pattern, in UTC."""
        when = when.astimezone(dt.UTC) if when.tzinfo else when.replace(tzinfo=dt.UTC)
        return "".join(self._field(letter, count, when) for letter, count in self._tokens)

    @staticmethod
    def _field(letter: str, count: int | str, when: dt.datetime) -> str:
        if letter == "'":
            return str(count)
        assert isinstance(count, int)
        number: int
        if letter == "G":
            return "AD"
        if letter in "yY":
            if count == 2:
                return f"{when.year % 100:02d}"
            number = when.year
        elif letter in "ML":
            if count >= 4:
                return _MONTHS[when.month - 1]
            if count == 3:
                return _MONTHS[when.month - 1][:3]
            number = when.month
        elif letter == "d":
            number = when.day
        elif letter == "D":
            number = when.timetuple().tm_yday
        elif letter == "E":
            day = _DAYS[when.weekday()]
            return day if count >= 4 else day[:3]
        elif letter == "u":
            number = when.isoweekday()
        elif letter == "a":
            return "AM" if when.hour < 12 else "PM"
        elif letter == "H":
            number = when.hour
        elif letter == "k":
            number = when.hour or 24
        elif letter == "K":
            number = when.hour % 12
        elif letter == "h":
            number = when.hour % 12 or 12
        elif letter == "m":
            number = when.minute
        elif letter == "s":
            number = when.second
        elif letter == "S":
            number = when.microsecond // 1000
        elif letter == "z":
            return "UTC"
        elif letter == "Z":
            return "+0000"
        else:  # X
            return "Z"
        return str(number).zfill(count)

    # -- parsing ------------------------------------------------------------------------------

    def _build_regex(self) -> str:
        parts: list[str] = []
        tokens = self._tokens
        for index, (letter, count) in enumerate(tokens):
            if letter == "'":
                parts.append(re.escape(str(count)))
                continue
            assert isinstance(count, int)
            group = f"(?P<{letter}{index}>"
            if letter in _NUMERIC and not (letter in "ML" and count >= 3):
                following = tokens[index + 1][0] if index + 1 < len(tokens) else ""
                digits = rf"\d{{{count}}}" if following in _NUMERIC else r"\d+"
                parts.append(group + digits + ")")
            elif letter in "ML":
                parts.append(group + "[A-Za-z]+)")
            elif letter == "E":
                parts.append(group + "[A-Za-z]+)")
            elif letter == "G":
                parts.append(group + "AD|BC)")
            elif letter == "a":
                parts.append(group + "AM|PM)")
            else:  # zones
                parts.append(group + r"Z|[+-]\d{2}:?(?:\d{2})?|[A-Za-z]+(?:[+-]\d{2}:?\d{2})?)")
        return "".join(parts)

    def parse(self, text: str) -> dt.datetime:
        """The UTC datetime ``text`` denotes; ValueError if it does not fit the pattern."""
        match = self._regex.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"{text!r} does not match the date format {self.pattern!r}")
        parts: dict[str, Any] = {"year": 1970, "month": 1, "day": 1}
        hour = hour12 = 0
        twelve_hour = twenty_four_hour = pm = False
        micro = 0
        offset = dt.timedelta(0)
        for name, raw in match.groupdict().items():
            letter = name[0]
            if letter in "yY":
                year = int(raw)
                parts["year"] = year + 2000 if len(raw) <= 2 and year < 100 else year
            elif letter in "ML":
                parts["month"] = int(raw) if raw.isdigit() else _month(raw)
            elif letter == "d":
                parts["day"] = int(raw)
            elif letter == "D":
                parts["yday"] = int(raw)
            elif letter in "Hk":
                hour = int(raw) % 24
                twenty_four_hour = True
            elif letter in "Kh":
                hour12 = int(raw) % 12
                twelve_hour = True
            elif letter == "a":
                pm = raw.upper() == "PM"
            elif letter == "m":
                parts["minute"] = int(raw)
            elif letter == "s":
                parts["second"] = int(raw)
            elif letter == "S":
                micro = int(raw) * 1000
            elif letter in "zZX":
                offset = _offset(raw)
        if twelve_hour and not twenty_four_hour:
            hour = hour12 + (12 if pm else 0)
        yday = parts.pop("yday", None)
        base = dt.datetime(
            parts["year"],
            parts["month"],
            parts["day"],
            hour,
            parts.get("minute", 0),
            parts.get("second", 0),
            tzinfo=dt.UTC,
        )
        if yday is not None:
            base = base.replace(month=1, day=1) + dt.timedelta(days=yday - 1)
        return base + dt.timedelta(microseconds=micro) - offset


def _month(name: str) -> int:
    lowered = name.lower()
    for index, month in enumerate(_MONTHS):
        if month.lower() == lowered or month[:3].lower() == lowered:
            return index + 1
    raise ValueError(f"unknown month {name!r}")


def _offset(zone: str) -> dt.timedelta:
    upper = zone.upper()
    if upper in ("Z", "UTC", "GMT"):
        return dt.timedelta(0)
    found = re.search(r"([+-])(\d{2}):?(\d{2})?$", zone)
    if found is None:
        raise ValueError(f"unsupported time zone {zone!r}; use an offset like +02:00")
    sign = 1 if found.group(1) == "+" else -1
    return sign * dt.timedelta(hours=int(found.group(2)), minutes=int(found.group(3) or 0))
