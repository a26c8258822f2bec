"""A hot-path profile of the sink pipeline: py-spy sampling a worker running the JSON file sink.

The worker runs topic → JSON → four transforms → FileStreamSink over the filled topic while
``py-spy record --format raw`` samples it (100 Hz, active threads only). The collapsed stacks are
folded two ways: *self* time per function (where the CPU is actually spent) and *inclusive*
time per faust-connect function (which runtime step it is spent under), plus the callers of the
biggest self costs. Written to ``bench/results/profile-sink.txt``; the raw-bytes null sink gets
the same treatment in ``profile-raw-sink.txt``.
"""

from __future__ import annotations

import collections
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.baselines import Context
from bench.data import JSON_CONVERTERS, RAW_CONVERTERS, TRANSFORMS
from bench.harness import BIN, Broker, count_lines, run_timeout, uid, wait_file
from bench.pipelines import start_workers

__all__ = ["profile_sink"]

_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^:]+)(?::\d+)?\)$")


def _short(frame: str) -> str:
    """``func (path:line)`` → ``func (pkg/module.py)``."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "faust_connect/", "lib/python3"):
        if marker in path:
            path = (
                path.split(marker, 1)[1]
                if marker != "faust_connect/"
                else "faust_connect/" + path.split(marker, 1)[1]
            )
            break
    return f"{match['func']} ({path})"


def fold(raw: str) -> tuple[int, Counter[str], Counter[str], dict[str, Counter[str]]]:
    """Total samples, self samples per function, inclusive samples per faust_connect function,
    and for each function the caller paths (its three parent frames) that led to its self time."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    callers: dict[str, Counter[str]] = collections.defaultdict(Counter)
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_short(f) for f in stack.split(";")]
        own[frames[-1]] += n
        callers[frames[-1]][" < ".join(reversed(frames[-4:-1]))] += n
        for frame in set(frames):
            if "faust_connect/" in frame or "bench/" in frame:
                inclusive[frame] += n
    return total, own, inclusive, callers


JSON_TITLE = "the sink pipeline (topic -> JSON -> 4 transforms -> FileStreamSink)"
RAW_TITLE = "the raw-bytes sink (topic -> ByteArrayConverter -> null sink)"


def _report(
    what: str,
    total: int,
    own: Counter[str],
    inclusive: Counter[str],
    callers: dict[str, Counter[str]],
    records: int,
) -> str:
    def pct(n: int) -> str:
        return f"{100 * n / total:5.1f}%"

    lines = [
        f"py-spy profile of {what},",
        f"{records:,} records, {total:,} samples at 100 Hz (active threads only).",
        "",
        "Self time (where the CPU is spent), top 25:",
    ]
    lines += [f"  {pct(n)}  {name}" for name, n in own.most_common(25)]
    lines += ["", "Inclusive time of faust-connect functions, top 25:"]
    lines += [f"  {pct(n)}  {name}" for name, n in inclusive.most_common(25)]
    lines += ["", "Where the top 5 self-time functions are called from (three callers up):"]
    for name, _ in own.most_common(5):
        lines.append(f"  {name}")
        lines += [f"    {pct(n)}  < {path}" for path, n in callers[name].most_common(3)]
    return "\n".join(lines) + "\n"


def profile_sink(
    ctx: Context, broker: Broker, topic: str, out: Path, *, raw_bytes: bool = False
) -> str:
    """Profile a sink over ``topic``; write the report to ``out``; return it.

    By default the JSON file sink (the pipeline the issue asks about); with ``raw_bytes`` the
    ByteArrayConverter null sink (the row compared with bare ``getmany``).
    """
    (worker,) = start_workers(ctx, broker)
    samples = ctx.folder / f"profile-{uid()}.txt"
    spy = subprocess.Popen(
        [str(BIN / "py-spy"), "record", "--pid", str(worker.pid), "--rate", "100",
         "--format", "raw", "--output", str(samples)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    common = {"topics": topic, "consumer.override.max.poll.records": str(ctx.max_poll_records)}
    try:
        if raw_bytes:
            result = ctx.folder / f"profile-{uid()}"
            config = {
                "connector.class": "BenchNullSink",
                "bench.expect": str(ctx.records),
                "bench.result": str(result),
                **RAW_CONVERTERS,
            }
            worker.create(f"profile-{uid()}", {**common, **config})
            wait_file(Path(f"{result}.0"), process=worker.process, timeout=run_timeout(ctx.records))
        else:
            file = ctx.folder / f"profile-{uid()}.jsonl"
            config = {
                "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
                "file": str(file),
                **JSON_CONVERTERS,
                **TRANSFORMS,
            }
            worker.create(f"profile-{uid()}", {**common, **config})
            count_lines(file, ctx.records)
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            _, err = spy.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            _, err = spy.communicate()
        worker.stop()
    if not samples.exists():
        text = f"py-spy failed: {err.decode(errors='replace')[-1000:]}\n"
    else:
        what = RAW_TITLE if raw_bytes else JSON_TITLE
        text = _report(what, *fold(samples.read_text()), ctx.records)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"  profile: {out}", file=sys.stderr, flush=True)
    return text
