"""FileStreamSource on both workers, one input file, each converter: the topics compared."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.differential.compare import Side, State, diff, run_source, run_until_failed, unique

pytestmark = [pytest.mark.differential, pytest.mark.kafka, pytest.mark.slow]

STRING = "org.apache.kafka.connect.storage.StringConverter"
JSON = "org.apache.kafka.connect.json.JsonConverter"
BYTES = "org.apache.kafka.connect.converters.ByteArrayConverter"

#: Lines worth telling apart: empty, spaces, JSON-looking text, escapes, non-ASCII, a number.
#: (Characters beyond the BMP have their own case: Jackson writes them as escaped surrogates.)
LINES = (
    b"hello\n"
    b"\n"
    b"  spaced  \n"
    b'{"a": 1, "b": [true, null]}\n'
    b'tab\there "q" back\\slash\n'
    b"gr\xc3\xbc\xc3\x9fe \xe2\x9c\x93\n"
    b"12345\n"
)


def converters(cls: str, **options: str) -> dict[str, str]:
    """Key and value converter ``cls`` with ``options`` for both."""
    out = {"key.converter": cls, "value.converter": cls}
    for key, value in options.items():
        out[f"key.converter.{key}"] = value
        out[f"value.converter.{key}"] = value
    return out


def source(path: Path, **extra: str) -> dict[str, str]:
    """A FileStreamSource config reading ``path`` into the side's ``{topic}``."""
    return {
        "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "tasks.max": "1",
        "file": str(path),
        "topic": "{topic}",
        **extra,
    }


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(converters(STRING), id="string"),
        pytest.param(converters(JSON, **{"schemas.enable": "true"}), id="json-schemas"),
        pytest.param(converters(JSON, **{"schemas.enable": "false"}), id="json-plain"),
    ],
)
def test_lines_to_topic(sides: tuple[Side, Side], tmp_path: Path, convert: dict[str, str]) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(LINES)
    jvm, ours = run_source(sides, unique("src"), source(path, **convert), LINES.count(b"\n"))
    assert ours == jvm, diff(jvm, ours)


@pytest.mark.parametrize("schemas", ["true", "false"])
def test_json_character_beyond_the_bmp(
    sides: tuple[Side, Side], tmp_path: Path, schemas: str
) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(b"smile \xf0\x9f\x98\x80\n")
    config = source(path, **converters(JSON, **{"schemas.enable": schemas}))
    jvm, ours = run_source(sides, unique("astral"), config, 1)
    assert ours == jvm, diff(jvm, ours)


def test_line_endings(sides: tuple[Side, Side], tmp_path: Path) -> None:
    """``\\r\\n``, a lone ``\\r`` and ``\\r\\r\\n``: Kafka's task ends a line at either."""
    path = tmp_path / "in.txt"
    path.write_bytes(b"dos\r\nmac\rboth\r\r\nunix\n")
    jvm, ours = run_source(sides, unique("eol"), source(path, **converters(STRING)), 5)
    assert ours == jvm, diff(jvm, ours)


@pytest.fixture(scope="module")
def byte_array_failures(
    sides: tuple[Side, Side], tmp_path_factory: pytest.TempPathFactory
) -> tuple[State, State]:
    """ByteArrayConverter over the file's STRING values, on both sides: the failed states."""
    path = tmp_path_factory.mktemp("bytes") / "in.txt"
    path.write_bytes(LINES)
    return run_until_failed(sides, unique("bytes"), source(path, **converters(BYTES)))


def test_byte_array_converter_fails_the_task(byte_array_failures: tuple[State, State]) -> None:
    """ByteArrayConverter takes BYTES only: the connector runs, its task fails, on both."""
    jvm, ours = byte_array_failures
    assert (ours[0], ours[1]) == (jvm[0], jvm[1]) == ("RUNNING", ["FAILED"])


def test_byte_array_converter_failure_message(byte_array_failures: tuple[State, State]) -> None:
    jvm, ours = byte_array_failures
    message = "Invalid schema type for ByteArrayConverter: STRING"
    assert message in jvm[2]
    assert message in ours[2], ours[2]
