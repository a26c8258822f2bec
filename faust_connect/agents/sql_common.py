"""What the JDBC-style source and sink share: URLs, engines, errors and the type mapping.

``connection.url`` is a SQLAlchemy URL (``postgresql://…``, ``mariadb://…``, ``sqlite:///…``) or
one of the JDBC forms ``jdbc:postgresql://host:port/db``, ``jdbc:mysql://…``, ``jdbc:mariadb://…``
and ``jdbc:sqlite:path``, translated. PostgreSQL runs on psycopg 3, MySQL and MariaDB on PyMySQL
(the ``sql`` extra installs them). Columns map to Connect schemas as in Confluent's connector
with ``numeric.mapping=none``: integers by width, NUMERIC(p,s) to Decimal, DATE/TIME/TIMESTAMP
to the logical types, a nullable column to an optional schema.
"""

from __future__ import annotations

import datetime as dt
import decimal
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import orjson

try:
    import sqlalchemy as sa
    from sqlalchemy import event, exc
except ImportError as _missing:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the JDBC connectors need SQLAlchemy: pip install 'faust-connect[sql]'"
    ) from _missing

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

__all__ = [
    "ValueReader",
    "column_reader",
    "db_message",
    "exc",
    "is_transient",
    "new_engine",
    "sa",
    "schema_of",
    "sql_type",
    "to_sqlalchemy_url",
    "value_reader",
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


def sql_type(schema: Schema, dialect: str, *, key: bool = False) -> sa.types.TypeEngine[Any]:
    """The column type ``auto.create``/``auto.evolve`` give a field of ``schema`` on ``dialect``.

    On MySQL/MariaDB a key column cannot be TEXT or BLOB: strings and bytes get VARCHAR(256)
    and VARBINARY(255) there, as Confluent's MySQL dialect does. A Decimal gets the widest
    precision the database allows with the schema's scale, so that reading it back gives the
    same schema.
    """
    mysql = dialect in ("mysql", "mariadb")
    name = schema.name
    if name == Logical.DECIMAL:
        # The widest precision each allows, so that only the scale is fixed (and read back).
        scale = int(schema.parameters.get(Logical.SCALE, "0"))
        return sa.Numeric({"postgresql": 1000, "sqlite": 38}.get(dialect, 65), scale)
    if name == Logical.DATE:
        return sa.Date()
    if name == Logical.TIME:
        return sa.Time()
    if name == Logical.TIMESTAMP:
        if mysql:
            from sqlalchemy.dialects.mysql import DATETIME

            return DATETIME(fsp=3)
        return sa.DateTime()
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
