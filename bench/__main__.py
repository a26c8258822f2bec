"""``python -m bench`` (``make bench``): every benchmark, one table, a JSON file in bench/results/.

Rows run in order, each on its own; a row that fails is shown as failed with its error and the
others go on. See bench/README.md for what each row measures and how to read the ratios.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import baselines, cdc_mysql, cdc_postgres, jvm, latency, micro, pipelines, sql
from bench.baselines import Context
from bench.data import datagen_bytes
from bench.harness import BROKERS, Broker, broker, fill, uid
from bench.profile import profile_sink
from bench.report import Row, Sample, machine, print_table, write_json

GROUPS = ("source", "sink", "jvm", "latency", "startup", "profile", "scaling", "micro")
RESULTS = Path(__file__).resolve().parent / "results"


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    add = parser.add_argument
    add("--records", type=int, default=50_000, help="records per throughput run")
    add("--faust-records", type=int, default=10_000, help="records per bare Faust agent run")
    add("--runs", type=int, default=3, help="runs per row (median, min, max)")
    add("--max-poll-records", type=int, default=2_000, help="sink fetch size, all consumers")
    add("--latency-rate", type=int, default=2_000, help="records/s in the latency rows")
    add("--latency-seconds", type=float, default=5.0, help="length of a latency run")
    add("--stored-offsets", type=int, default=100_000, help="offsets in the start-up row")
    add("--startup-runs", type=int, default=1, help="runs of the start-up rows (each ~1 min)")
    add("--micro-records", type=int, default=5_000, help="records in the micro benchmarks")
    add("--micro-seconds", type=float, default=0.5, help="seconds per micro benchmark run")
    add("--sql-records", type=int, default=20_000, help="rows per run in the sql group")
    add("--cdc-records", type=int, default=100_000, help="backlog changes per run in the cdc group")
    add("--jvm-runs", type=int, default=1, help="runs per side in the jvm group (each ~1 min)")
    add(
        "--jvm-flags",
        choices=sorted(jvm.JVM_FLAGS),
        default="kafka",
        help="the JVM worker's flags: connect-distributed.sh's (kafka) or the test fixture's",
    )
    add("--broker", choices=BROKERS, default="kafka", help="kafka (one node, needs Java) or noida")
    add(
        "--only",
        default=",".join(GROUPS),
        help=f"comma list of: {', '.join(GROUPS)}, sql, cdc, debezium",
    )
    add("--out", type=Path, default=RESULTS, help="where the JSON and the profile go")
    return parser.parse_args(argv)


class Table:
    """Collects rows; a row whose run raises is kept as failed."""

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def row(
        self, key: str, title: str, where: Broker | str, run: Callable[[], list[Sample]], **kw: Any
    ) -> list[Sample]:
        name = where if isinstance(where, str) else where.name
        print(f"== {key}: {title}", file=sys.stderr, flush=True)
        try:
            samples = run()
        except Exception as exc:
            traceback.print_exc()
            samples, kw["note"] = [], repr(exc)[:100]
        self.rows.append(Row(key, title, name, samples, **kw))
        return samples


def _single_rows(table: Table, ctx: Context, args: argparse.Namespace, groups: set[str]) -> None:
    with broker(args.broker, ctx.folder) as b:
        topic = f"sink-in-{uid()}"
        fill(b.bootstrap, topic, datagen_bytes(ctx.records))
        ctx.log(f"{b.name} at {b.bootstrap}; {ctx.records:,} records in {topic}")
        row = table.row
        if "source" in groups:
            row(
                "bare-produce",
                "aiokafka send per record (bare)",
                b,
                lambda: baselines.bare_produce(ctx, b),
                baseline="batch-produce",
            )
            row(
                "batch-produce",
                "aiokafka send_batch, as the runner (bare)",
                b,
                lambda: baselines.bare_produce(ctx, b, "produce-batch"),
            )
            row(
                "rdk-produce",
                "confluent-kafka produce (librdkafka)",
                b,
                lambda: baselines.bare_produce(ctx, b, "rdkafka-produce"),
                baseline="batch-produce",
            )
            row(
                "datagen",
                "datagen -> JSON (schemas) -> topic",
                b,
                lambda: pipelines.datagen_source(ctx, b),
                baseline="batch-produce",
                worker=True,
            )
            row(
                "raw-source",
                "raw bytes -> ByteArrayConverter -> topic",
                b,
                lambda: pipelines.raw_source(ctx, b),
                baseline="batch-produce",
                target=0.5,
                worker=True,
            )
        if "sink" in groups:
            row(
                "bare-consume",
                "aiokafka getmany (bare)",
                b,
                lambda: baselines.bare_consume(ctx, b, topic),
            )
            row(
                "rdk-consume",
                "confluent-kafka consume (librdkafka)",
                b,
                lambda: baselines.bare_consume(ctx, b, topic, "rdkafka-consume"),
                baseline="bare-consume",
            )
            row(
                "faust-agent",
                "Faust agent, per event (bare)",
                b,
                lambda: baselines.faust_agent(ctx, b, topic),
                baseline="bare-consume",
            )
            row(
                "quix-pass",
                "Quix Streams pass-through",
                b,
                lambda: baselines.quix_passthrough(ctx, b, topic),
                baseline="bare-consume",
            )
            row(
                "raw-sink",
                "topic -> ByteArrayConverter -> null sink",
                b,
                lambda: pipelines.null_sink(ctx, b, topic),
                baseline="bare-consume",
                target=0.5,
                quix="quix-pass",
                worker=True,
            )
            row(
                "quix-json",
                "Quix: JSON -> 4 transforms -> file",
                b,
                lambda: baselines.quix_json(ctx, b, topic),
                baseline="bare-consume",
            )
            row(
                "file-sink",
                "topic -> JSON -> 4 transforms -> file",
                b,
                lambda: pipelines.file_sink(ctx, b, topic),
                baseline="bare-consume",
                quix="quix-json",
                worker=True,
            )
        if "jvm" in groups:
            jvm.jvm_rows(row, ctx, b, topic, args.jvm_flags, args.jvm_runs)
        if "latency" in groups:
            rate, secs = args.latency_rate, args.latency_seconds
            row(
                "lat-bare",
                f"latency @{rate}/s: aiokafka getmany",
                b,
                lambda: latency.bare_latency(ctx, b, rate, secs),
            )
            row(
                "lat-sink",
                f"latency @{rate}/s: raw bytes -> null sink",
                b,
                lambda: latency.sink_latency(ctx, b, rate, secs),
                worker=True,
            )
        if "startup" in groups:
            stored = args.stored_offsets
            full: list[Sample] = []

            def empty() -> list[Sample]:
                first, second = latency.startup(ctx, b, stored, args.startup_runs)
                full.extend(second)
                return first

            row("start-empty", "worker start -> ready, no offsets", b, empty, unit="s", worker=True)
            row(
                "idle",
                "idle worker: share of one core over 20 s",
                b,
                lambda: latency.idle_cpu(ctx, b, 20.0, args.startup_runs),
                unit="%",
                target=2.0,
                worker=True,
            )
            row(
                "start-offsets",
                f"start -> ready, {stored:,} offsets",
                b,
                lambda: full,
                unit="s",
                baseline="start-empty",
                target=5.0,
                worker=True,
            )
        if "profile" in groups:
            for name, raw_bytes in (("profile-sink.txt", False), ("profile-raw-sink.txt", True)):
                try:
                    profile_sink(ctx, b, topic, args.out / name, raw_bytes=raw_bytes)
                except Exception:
                    traceback.print_exc()


def _scaling_rows(table: Table, ctx: Context, kind: str) -> None:
    if kind == "noida":  # its consumer groups break when a second member joins
        ctx.log("scaling rows skipped: they need --broker kafka (noida-db has no 2-member groups)")
        return
    with broker(kind, ctx.folder) as b:
        topic = f"scale-in-{uid()}"
        fill(b.bootstrap, topic, datagen_bytes(ctx.records), partitions=2)
        row = table.row
        row(
            "src-1w",
            "raw source, 2 tasks, 1 worker",
            b,
            lambda: pipelines.raw_source(ctx, b, 1, tasks=2),
            worker=True,
        )
        row(
            "src-2w",
            "raw source, 2 tasks, 2 workers",
            b,
            lambda: pipelines.raw_source(ctx, b, 2, tasks=2),
            baseline="src-1w",
            worker=True,
        )
        row(
            "sink-1w",
            "null sink, 2 tasks, 1 worker",
            b,
            lambda: pipelines.null_sink(ctx, b, topic, 1, tasks=2),
            worker=True,
        )
        row(
            "sink-2w",
            "null sink, 2 tasks, 2 workers",
            b,
            lambda: pipelines.null_sink(ctx, b, topic, 2, tasks=2),
            baseline="sink-1w",
            worker=True,
        )


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    groups = set(args.only.split(","))
    info = machine()
    started = time.monotonic()
    pairs = datagen_bytes(min(args.records, 5_000))
    size = sum(len(k) + len(v) for k, v in pairs) / len(pairs)
    table = Table()
    with tempfile.TemporaryDirectory(prefix="faust-connect-bench-") as tmp:
        ctx = Context(
            Path(tmp), args.records, args.faust_records, args.runs, args.max_poll_records, size
        )
        if groups & {"source", "sink", "jvm", "latency", "startup", "profile"}:
            _single_rows(table, ctx, args, groups)
        if "scaling" in groups:
            _scaling_rows(table, ctx, args.broker)
        if "micro" in groups:
            for row in micro.micro_rows(args.micro_records, args.micro_seconds, args.runs):
                table.rows.append(row)
        if "sql" in groups:  # only when named (--only sql): it adds ~2 min
            sql.sql_rows(table.row, ctx, args.broker, args.sql_records)
        if groups & {"cdc", "debezium"}:  # only when named (--only cdc, or debezium: and JVM)
            dbz, flags = "debezium" in groups, args.jvm_flags
            n = args.cdc_records
            cdc_mysql.cdc_mysql_rows(table.row, ctx, args.broker, n, dbz, flags)
            cdc_postgres.cdc_postgres_rows(table.row, ctx, args.broker, n, dbz, flags)
    elapsed = time.monotonic() - started
    settings = {k: str(v) for k, v in vars(args).items()} | {"record_bytes": round(size, 1)}
    print(
        f"\nfaust-connect bench, {info['when']}, {info['cpu']} x{info['cores']}, "
        f"load before {' '.join(info['load_before'])}, {elapsed:.0f}s"
    )
    print_table(table.rows)
    path = write_json(table.rows, settings, args.out, {**info, "seconds": round(elapsed)})
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
