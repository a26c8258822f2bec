"""Quix Streams doing the rows' work, in its own process: ``python -m bench.quix``.

``passthrough``: raw bytes in, each record handed to a counting step (the bench null sink's
work); timed in-process from the app's start of consuming to the ``n``-th record, then the app
stops. ``json``: JSON decode, the four transforms (:func:`bench.data.transform_dict`) and a file
sink appending one JSON line per record (a BatchingSink, written at each checkpoint, which runs
every ``--commit-interval`` seconds like the worker's offset flush); the bench counts the lines.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from quixstreams import Application
from quixstreams.sinks import BatchingSink, SinkBatch

from bench.data import transform_dict
from bench.recorder import Recorder


class FileLines(BatchingSink):
    """Appends each value as one JSON line, as faust-connect's FileStreamSink does."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._out = open(path, "ab")

    def write(self, batch: SinkBatch) -> None:
        self._out.write(b"".join(orjson.dumps(item.value) + b"\n" for item in batch))
        self._out.flush()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.quix")
    parser.add_argument("mode", choices=["passthrough", "json"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("-n", type=int, required=True)
    parser.add_argument("--result", default="", help="passthrough: where to write the timing")
    parser.add_argument("--out", default="", help="json: the file to append lines to")
    parser.add_argument("--commit-interval", type=float, default=0.2)
    args = parser.parse_args()
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        commit_interval=args.commit_interval,
        loglevel="WARNING",
        use_changelog_topics=False,
    )
    if args.mode == "passthrough":
        topic = app.topic(args.topic, value_deserializer="bytes", key_deserializer="bytes")
        recorder = Recorder(args.result, args.n)

        def count(value: Any) -> None:
            recorder.add(1)
            if recorder.count >= args.n:
                app.stop()

        app.dataframe(topic).update(count)
    else:
        topic = app.topic(args.topic, value_deserializer="json", key_deserializer="bytes")
        sdf = app.dataframe(topic)
        sdf = sdf.apply(
            lambda value, key, timestamp, headers: transform_dict(value["payload"], timestamp),
            metadata=True,
        )
        sdf.sink(FileLines(args.out))
    started = time.time()
    app.run()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(args.result or args.out).with_suffix(".rss").write_text(f"{rss} {started}")
    sys.exit(0)


if __name__ == "__main__":
    main()
