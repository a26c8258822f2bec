"""Connect's logical types in their wire form, shared by the JSON and Avro converters.

- Decimal: the unscaled value as big-endian two's-complement bytes (as Java's
  ``BigInteger.toByteArray``: the fewest bytes, at least one), the scale in the schema.
- Date: days since 1970-01-01. Time: milliseconds since midnight. Timestamp: milliseconds
  since the epoch (a naive ``datetime`` is taken as UTC; values read back are UTC-aware).

Each function raises ValueError or TypeError on a bad value; the converters turn that into a
:class:`~faust_connect.codecs.errors.CodecError`.

>>> decimal_to_bytes(decimal.Decimal("2.25"), 2)
b'\\x00\\xe1'
>>> bytes_to_decimal(b"\\x00\\xe1", 2)
Decimal('2.25')
"""

from __future__ import annotations

import datetime as dt
import decimal

from faust_connect.data import Logical, Schema

__all__ = [
    "EPOCH",
    "EPOCH_DATE",
    "bytes_to_decimal",
    "date_to_days",
    "days_to_date",
    "decimal_scale",
    "decimal_to_bytes",
    "decimal_to_unscaled",
    "millis_to_time",
    "millis_to_timestamp",
    "time_to_millis",
    "timestamp_to_millis",
]

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
EPOCH_DATE = dt.date(1970, 1, 1)
_MS_PER_DAY = 86_400_000
_ONE_MS = dt.timedelta(milliseconds=1)
_timedelta = dt.timedelta


def decimal_scale(schema: Schema) -> int:
    """The scale a Decimal schema declares in its ``scale`` parameter."""
    try:
        return int(schema.parameters[Logical.SCALE])
    except (KeyError, ValueError):
        raise ValueError(f"Decimal schema {schema.name} has no valid 'scale' parameter") from None


def decimal_to_unscaled(value: decimal.Decimal, scale: int) -> int:
    """The unscaled integer of ``value`` at ``scale``; ValueError if that would round."""
    if not isinstance(value, decimal.Decimal):
        raise TypeError(f"Decimal value must be decimal.Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"Decimal value {value} is not finite")
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite decimals have an int exponent
    unscaled: int = int("".join(map(str, digits)) or "0")
    shift = exponent + scale
    if shift >= 0:
        unscaled *= 10**shift
    else:
        unscaled, rest = divmod(unscaled, 10 ** (-shift))
        if rest:
            raise ValueError(f"Decimal value {value} does not fit scale {scale}")
    return -unscaled if sign else unscaled


def decimal_to_bytes(value: decimal.Decimal, scale: int) -> bytes:
    """``value`` at ``scale`` as big-endian two's-complement bytes (Java's BigInteger form)."""
    unscaled = decimal_to_unscaled(value, scale)
    length = unscaled.bit_length() // 8 + 1
    return unscaled.to_bytes(length, "big", signed=True)


def bytes_to_decimal(data: bytes, scale: int) -> decimal.Decimal:
    """The Decimal whose unscaled two's-complement bytes are ``data``."""
    if not data:
        raise ValueError("empty bytes are not a Decimal")
    unscaled = int.from_bytes(data, "big", signed=True)
    return decimal.Decimal(unscaled).scaleb(-scale)


def date_to_days(value: dt.date) -> int:
    """Days since the epoch."""
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise TypeError(f"Date value must be datetime.date, not {type(value).__name__}")
    return value.toordinal() - EPOCH_DATE.toordinal()


def days_to_date(days: int) -> dt.date:
    """The date ``days`` after the epoch."""
    return dt.date.fromordinal(EPOCH_DATE.toordinal() + days)


def time_to_millis(value: dt.time) -> int:
    """Milliseconds since midnight (sub-millisecond digits are dropped, as Java's Date has none)."""
    if not isinstance(value, dt.time):
        raise TypeError(f"Time value must be datetime.time, not {type(value).__name__}")
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1000 + value.microsecond // 1000


def millis_to_time(millis: int) -> dt.time:
    """The time of day ``millis`` after midnight."""
    if not 0 <= millis < _MS_PER_DAY:
        raise ValueError(f"Time value {millis} ms is outside one day")
    seconds, ms = divmod(millis, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return dt.time(hour, minute, second, ms * 1000)


def timestamp_to_millis(value: dt.datetime) -> int:
    """Milliseconds since the epoch (naive datetimes are UTC)."""
    if not isinstance(value, dt.datetime):
        raise TypeError(f"Timestamp value must be datetime.datetime, not {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    millis: int = (value - EPOCH) // _ONE_MS
    return millis


def millis_to_timestamp(millis: int) -> dt.datetime:
    """The UTC datetime ``millis`` after the epoch."""
    return EPOCH + _timedelta(0, 0, 0, millis)  # positional: much faster than keywords
