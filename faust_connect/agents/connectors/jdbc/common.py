"""What the JDBC-style source and sink share: URLs, engines, errors and the type mapping.

``connection.url`` is a SQLAlchemy URL (``postgresql://…``, ``mariadb://…``, ``sqlite:///…``) or
one of the JDBC forms ``jdbc:postgresql://host:port/db``, ``jdbc:mysql://…``, ``jdbc:mariadb://…``
and ``jdbc:sqlite:path``, translated. PostgreSQL runs on psycopg 3, MySQL and MariaDB on PyMySQL
(the ``sql`` extra installs them). Columns map to Connect schemas as in Confluent's connector
with ``numeric.mapping=none``: integers by width, NUMERIC(p,s) to Decimal, DATE/TIME/TIMESTAMP
to the logical types, a nullable column to an optional schema. The other way, named schemas
(Connect's logical types and Debezium's semantic types) get their column types and bound values
from one table, ``NAMED``, as in Debezium's JDBC sink.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import orjson

try:
    import sqlalchemy as sa
    from sqlalchemy import event, exc
    from sqlalchemy.dialects.mysql import DATETIME as MYSQL_DATETIME
    from sqlalchemy.dialects.mysql import TIME as MYSQL_TIME
    from sqlalchemy.dialects.postgresql import JSONB
except ImportError as _missing:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the JDBC connectors need SQLAlchemy: pip install 'faust-connect[sql]'"
    ) from _missing

from faust_connect.agents.connectors.cdc.debezium import EPOCH, Debezium
from faust_connect.data import (
    BOOLEAN,
    BYTES,
    DATE,
    FLOAT64,
    INT8,
    INT16,
    INT32,
    INT64,
    STRING,
    TIME,
    TIMESTAMP,
    Logical,
    Schema,
    Type,
    decimal_schema,
)
from faust_connect.exceptions import ConfigIssue

__all__ = [
    "NAMED",
    "Named",
    "ValueReader",
    "ValueWriter",
    "column_reader",
    "connection_engine",
    "connection_url_issues",
    "db_message",
    "exc",
    "is_transient",
    "new_engine",
    "sa",
    "schema_of",
    "sql_type",
    "to_sqlalchemy_url",
    "value_reader",
    "value_writer",
]

#: SQLAlchemy's default DBAPI per backend is not the one we ship: pick ours.
_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
_JDBC = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mariadb"}

#: Turns a value read from the database into its Connect value.
ValueReader = Callable[[Any], Any]


def to_sqlalchemy_url(url: str, user: str = "", password: str = "") -> sa.URL:
    """``url`` as a SQLAlchemy URL with our drivers; ``user``/``password`` win over the URL's."""
    url = url.strip()
    if url.startswith("jdbc:sqlite:"):
        path = url.removeprefix("jdbc:sqlite:")
        parsed = sa.make_url("sqlite://" if path in ("", ":memory:") else f"sqlite:///{path}")
    elif url.startswith("jdbc:"):
        scheme, sep, rest = url.removeprefix("jdbc:").partition("://")
        if not sep or scheme not in _JDBC:
            raise ValueError(f"unsupported JDBC URL {url!r} (postgresql, mysql, mariadb, sqlite)")
        address, _, query = rest.partition("?")
        params = dict(urllib.parse.parse_qsl(query.replace(";", "&")))
        host, _, database = address.partition("/")
        port = None
        if ":" in host:
            host, _, port_text = host.rpartition(":")
            port = int(port_text)
        keep = {k: v for k, v in params.items() if k not in ("user", "password")}
        if scheme != "postgresql":  # PyMySQL rejects the JDBC driver's own options
            keep = {k: v for k, v in keep.items() if k == "charset"}
        parsed = sa.URL.create(
            _JDBC[scheme],
            username=params.get("user") or None,
            password=params.get("password") or None,
            host=host or None,
            port=port,
            database=database or None,
            query=keep,
        )
    else:
        parsed = sa.make_url(url)
    driver = _DRIVERS.get(parsed.drivername)
    if driver is not None:
        parsed = parsed.set(drivername=driver)
    if parsed.get_backend_name() in ("mysql", "mariadb") and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    if user:
        parsed = parsed.set(username=user)
    if password:
        parsed = parsed.set(password=password)
    return parsed


def connection_engine(c: Any) -> sa.Engine:
    """An engine for a connector's ``connection.url``/``.user``/``.password`` keys."""
    password = c.connection_password.get_secret_value()
    return new_engine(to_sqlalchemy_url(c.connection_url, c.connection_user, password))


def connection_url_issues(url: str) -> list[ConfigIssue]:
    """The ``connection.url`` problem, if it is not a URL we can use."""
    try:
        to_sqlalchemy_url(url)
    except (ValueError, exc.ArgumentError) as error:
        return [ConfigIssue("connection.url", str(error))]
    return []


def new_engine(url: sa.URL) -> sa.Engine:
    """An engine that checks connections before use (and has working SAVEPOINTs on SQLite)."""
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        # pysqlite's own transaction handling breaks SAVEPOINT: let SQLAlchemy emit BEGIN.
        @event.listens_for(engine, "connect")
        def _no_pysqlite_transactions(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(connection: sa.Connection) -> None:
            connection.exec_driver_sql("BEGIN")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=2)


def is_transient(error: BaseException) -> bool:
    """Whether a database error means the connection, not the data, failed."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, exc.OperationalError) and "database is locked" in str(error):
        return True  # SQLite: another writer holds the lock
    return isinstance(error, (exc.DisconnectionError, exc.TimeoutError))


def db_message(error: BaseException) -> BaseException:
    """The database's own exception behind a SQLAlchemy error (its message is the DB's)."""
    if isinstance(error, exc.DBAPIError) and isinstance(error.orig, BaseException):
        return error.orig
    return error


# -- database → Connect -----------------------------------------------------------------------


def column_reader(column: sa.Column[Any], zone: ZoneInfo) -> tuple[Schema, ValueReader]:
    """The Connect schema of a reflected column and how to convert its values."""
    kind = column.type
    schema, read = _reader(kind, zone)
    if column.nullable:
        schema = schema.as_optional()
    return schema, read


def _same(value: Any) -> Any:
    return value


def _reader(kind: sa.types.TypeEngine[Any], zone: ZoneInfo) -> tuple[Schema, ValueReader]:
    name = type(kind).__name__.upper()
    if isinstance(kind, sa.Boolean) or (
        name == "TINYINT" and getattr(kind, "display_width", 0) == 1
    ):
        return BOOLEAN, bool
    if isinstance(kind, sa.Integer):
        unsigned = bool(getattr(kind, "unsigned", False))
        if name == "TINYINT":
            return (INT16 if unsigned else INT8), int
        if isinstance(kind, sa.SmallInteger):
            return (INT32 if unsigned else INT16), int
        if name == "MEDIUMINT":
            return INT32, int
        if isinstance(kind, sa.BigInteger):
            return INT64, int
        return (INT64 if unsigned else INT32), int
    if isinstance(kind, sa.Float):
        return FLOAT64, float
    if isinstance(kind, sa.Numeric):
        scale = kind.scale
        if scale is None:  # unconstrained NUMERIC: no fixed scale, as best_fit maps it
            return FLOAT64, float
        return decimal_schema(scale), _decimal_reader(scale)
    if isinstance(kind, sa.DateTime):
        return TIMESTAMP, _timestamp_reader(zone)
    if isinstance(kind, sa.Date):
        return DATE, _date
    if isinstance(kind, sa.Time):
        return TIME, _time
    if isinstance(kind, sa.LargeBinary) or isinstance(kind, sa.types._Binary):
        return BYTES, bytes
    if isinstance(kind, sa.JSON):
        return STRING, _json
    if isinstance(kind, sa.String):
        return STRING, _same
    return STRING, str


def _decimal_reader(scale: int) -> ValueReader:
    quantum = decimal.Decimal(1).scaleb(-scale)

    def read(value: Any) -> decimal.Decimal:
        number = value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))
        return number.quantize(quantum)

    return read


def _timestamp_reader(zone: ZoneInfo) -> ValueReader:
    def read(value: Any) -> dt.datetime:
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        return value.astimezone(dt.UTC)  # type: ignore[no-any-return]

    return read


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value  # type: ignore[no-any-return]


def _time(value: Any) -> dt.time:
    if isinstance(value, dt.timedelta):  # MySQL's TIME comes back as a duration
        return (dt.datetime.min + value).time()
    if isinstance(value, str):
        return dt.time.fromisoformat(value)
    return value  # type: ignore[no-any-return]


def _json(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def value_reader(value: Any) -> tuple[Schema, ValueReader]:
    """A schema for a value of a query's result whose column type is unknown (query mode)."""
    if isinstance(value, bool):
        return BOOLEAN, bool
    if isinstance(value, int):
        return INT64, int
    if isinstance(value, float):
        return FLOAT64, float
    if isinstance(value, decimal.Decimal):
        exponent = value.as_tuple().exponent
        scale = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return decimal_schema(scale), _decimal_reader(scale)
    if isinstance(value, dt.datetime):
        return TIMESTAMP, _timestamp_reader(ZoneInfo("UTC"))
    if isinstance(value, dt.date):
        return DATE, _date
    if isinstance(value, (dt.time, dt.timedelta)):
        return TIME, _time
    if isinstance(value, (bytes, bytearray, memoryview)):
        return BYTES, bytes
    if isinstance(value, (dict, list)):
        return STRING, _json
    return STRING, str


# -- Connect → database -----------------------------------------------------------------------


#: Turns a field's Connect value into what the driver binds for a column of the given type
#: (the reflected one; None before the table is known). It gets None values too.
ValueWriter = Callable[[Any, "sa.types.TypeEngine[Any] | None"], Any]
#: The column type of a field of ``schema`` on ``dialect`` (``key``: a primary key column).
ColumnType = Callable[[Schema, str, bool], "sa.types.TypeEngine[Any]"]

_MYSQL = ("mysql", "mariadb")
_DAY = dt.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class Named:
    """How the fields of one named schema go into a database."""

    #: Their column type for ``auto.create``/``auto.evolve``.
    column: ColumnType
    #: Their bound values; None when the converter already gives the Python value.
    write: ValueWriter | None = None


def _decimal_column(schema: Schema, dialect: str, key: bool) -> sa.types.TypeEngine[Any]:
    # The widest precision each allows, so that only the scale is fixed (and read back).
    scale = int(schema.parameters.get(Logical.SCALE, "0"))
    return sa.Numeric({"postgresql": 1000, "sqlite": 38}.get(dialect, 65), scale)


def _date_column(schema: Schema, dialect: str, key: bool) -> sa.types.TypeEngine[Any]:
    return sa.Date()


def _time_column(fsp: int | None) -> ColumnType:
    """TIME; with ``fsp`` fractional digits on MySQL/MariaDB (whose default is none)."""

    def column(schema: Schema, dialect: str, key: bool) -> sa.types.TypeEngine[Any]:
        return MYSQL_TIME(fsp=fsp) if fsp is not None and dialect in _MYSQL else sa.Time()

    return column


def _timestamp_column(fsp: int, *, zoned: bool = False) -> ColumnType:
    """TIMESTAMP (WITH TIME ZONE if ``zoned``); DATETIME(fsp) in UTC on MySQL/MariaDB."""

    def column(schema: Schema, dialect: str, key: bool) -> sa.types.TypeEngine[Any]:
        return MYSQL_DATETIME(fsp=fsp) if dialect in _MYSQL else sa.DateTime(timezone=zoned)

    return column


def _json_column(schema: Schema, dialect: str, key: bool) -> sa.types.TypeEngine[Any]:
    if dialect == "postgresql":
        return JSONB()  # unlike JSON, it has equality, so it can also be a key
    if dialect in _MYSQL:
        return sa.String(256) if key else sa.JSON()  # MariaDB: LONGTEXT checked by JSON_VALID
    return sa.Text()


def _uuid_column(schema: Schema, dialect: str, key: bool) -> sa.types.TypeEngine[Any]:
    if dialect == "postgresql":
        return sa.Uuid()
    return sa.CHAR(36) if dialect in _MYSQL else sa.Text()


def _not_null(convert: Callable[[Any, Any], Any]) -> ValueWriter:
    def write(value: Any, column: sa.types.TypeEngine[Any] | None) -> Any:
        return None if value is None else convert(value, column)

    return write


def _time_of_day(micros: int, column: sa.types.TypeEngine[Any] | None) -> dt.time | dt.timedelta:
    delta = dt.timedelta(microseconds=micros)
    if dt.timedelta(0) <= delta < _DAY:
        return (dt.datetime.min + delta).time()
    if isinstance(column, MYSQL_TIME):
        return delta  # MySQL's TIME is a duration (±838 hours): Debezium's MySQL times may be
    raise ValueError(f"{micros} µs is not a time of day")


def _json_value(value: Any, column: sa.types.TypeEngine[Any] | None) -> Any:
    if isinstance(column, sa.JSON):  # SQLAlchemy serialises what it binds to a JSON column
        return sa.null() if value is None else orjson.loads(value)
    return value


def _uuid_value(value: str, column: sa.types.TypeEngine[Any] | None) -> str | uuid.UUID:
    return uuid.UUID(value) if isinstance(column, sa.Uuid) and column.as_uuid else value


def _zoned(value: str, column: Any) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


#: Named schemas by name: Connect's logical types (whose values the converters already turn
#: into Python objects) and Debezium's semantic types (whose values are numbers and strings).
#: An aware datetime goes into a column without a time zone in UTC.
NAMED: Mapping[str, Named] = {
    Logical.DECIMAL: Named(_decimal_column),
    Logical.DATE: Named(_date_column),
    Logical.TIME: Named(_time_column(None)),
    Logical.TIMESTAMP: Named(_timestamp_column(3)),
    Debezium.DATE: Named(
        _date_column, _not_null(lambda days, _: EPOCH.date() + dt.timedelta(days=days))
    ),
    Debezium.TIME: Named(_time_column(3), _not_null(lambda ms, c: _time_of_day(ms * 1000, c))),
    Debezium.MICRO_TIME: Named(_time_column(6), _not_null(_time_of_day)),
    Debezium.TIMESTAMP: Named(
        _timestamp_column(3), _not_null(lambda ms, _: EPOCH + dt.timedelta(milliseconds=ms))
    ),
    Debezium.MICRO_TIMESTAMP: Named(
        _timestamp_column(6), _not_null(lambda us, _: EPOCH + dt.timedelta(microseconds=us))
    ),
    Debezium.ZONED_TIMESTAMP: Named(_timestamp_column(6, zoned=True), _not_null(_zoned)),
    Debezium.JSON: Named(_json_column, _json_value),
    Debezium.UUID: Named(_uuid_column, _not_null(_uuid_value)),
}


def value_writer(schema: Schema) -> ValueWriter | None:
    """How to bind values of ``schema`` (None: as they are)."""
    named = NAMED.get(schema.name) if schema.name else None
    return None if named is None else named.write


def sql_type(schema: Schema, dialect: str, *, key: bool = False) -> sa.types.TypeEngine[Any]:
    """The column type ``auto.create``/``auto.evolve`` give a field of ``schema`` on ``dialect``.

    A named schema in ``NAMED`` gets its own. On MySQL/MariaDB a key column cannot be TEXT or
    BLOB: strings and bytes get VARCHAR(256) and VARBINARY(255) there, as Confluent's MySQL
    dialect does. A Decimal gets the widest precision the database allows with the schema's
    scale, so that reading it back gives the same schema.
    """
    mysql = dialect in _MYSQL
    named = NAMED.get(schema.name) if schema.name else None
    if named is not None:
        return named.column(schema, dialect, key)
    kind = schema.type
    simple: Mapping[Type, sa.types.TypeEngine[Any]] = {
        Type.INT8: sa.SmallInteger(),
        Type.INT16: sa.SmallInteger(),
        Type.INT32: sa.Integer(),
        Type.INT64: sa.BigInteger(),
        Type.FLOAT32: sa.REAL(),
        Type.FLOAT64: sa.Double(),
        Type.BOOLEAN: sa.Boolean(),
    }
    if kind in simple:
        return simple[kind]
    if kind is Type.STRING:
        return sa.String(256) if mysql and key else sa.Text()
    if kind is Type.BYTES:
        return sa.VARBINARY(255) if mysql and key else sa.LargeBinary()
    raise ValueError(f"no SQL column type for a {kind} schema")


def schema_of(value: Any) -> Schema:
    """An optional schema for a value that came without one (schemaless JSON)."""
    schema, _ = value_reader(value)
    if schema.type is Type.STRING and not isinstance(value, str) and value is not None:
        raise ValueError(f"no SQL column type for a value of type {type(value).__name__}")
    return schema.as_optional()
