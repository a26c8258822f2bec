"""Samples, rows and the table: median of the runs with min and max, ratios to baselines."""

from __future__ import annotations

import dataclasses
import json
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

__all__ = ["Row", "Sample", "jvm_lines", "print_table", "write_json"]


@dataclasses.dataclass
class Sample:
    """One run: ``count`` records of ``record_bytes`` each in ``seconds``."""

    seconds: float
    count: int
    record_bytes: float
    rss_mb: float = 0.0
    latencies_ms: list[float] | None = None
    #: CPU seconds (user + system) the process used between the first and the last record.
    cpu_s: float = 0.0
    #: Seconds from the process's start to the first record out (the ``jvm`` rows).
    startup_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


@dataclasses.dataclass
class Row:
    """A table row: its runs, where it ran, and what it is compared with."""

    key: str
    title: str
    broker: str
    samples: list[Sample]
    baseline: str = ""  # key of the row this one is divided by
    target: float | None = None  # the ratio the issue asks for (reported, not asserted)
    #: "rec/s", or a unit whose value is each sample's ``seconds`` field and where lower is
    #: better: "s" (start-up rows), "%" (share of a core: the idle row)
    unit: str = "rec/s"
    note: str = ""
    quix: str = ""  # key of the Quix Streams row doing the same work (target: 1.5x)
    worker: bool = False  # a faust-connect worker: RSS is checked against 150 MB
    jvm: str = ""  # key of the JVM Kafka Connect row doing the same work (the jvm table)
    jvm_rate: float | None = None  # a target for records/s ÷ the JVM row's (the CDC rows: 1)

    def median(self) -> float:
        if self.unit != "rec/s":
            return statistics.median(s.seconds for s in self.samples)
        return statistics.median(s.rate for s in self.samples)

    def spread(self) -> tuple[float, float]:
        values = [s.seconds if self.unit != "rec/s" else s.rate for s in self.samples]
        return min(values), max(values)

    def mb_per_s(self) -> float:
        return statistics.median(s.rate * s.record_bytes / 1e6 for s in self.samples)

    def latency(self) -> tuple[float, float] | None:
        values = sorted(v for s in self.samples for v in s.latencies_ms or ())
        if not values:
            return None
        return values[len(values) // 2], values[min(len(values) - 1, int(len(values) * 0.99))]

    def rss(self) -> float:
        return max(s.rss_mb for s in self.samples)

    def cpu_per_million(self) -> float:
        """Median CPU seconds per million records (0 when not measured)."""
        return statistics.median(s.cpu_s / s.count * 1e6 if s.count else 0 for s in self.samples)

    def per_cpu_second(self) -> float:
        """Records per CPU-second (0 when not measured)."""
        cpu = self.cpu_per_million()
        return 1e6 / cpu if cpu else 0.0

    def startup(self) -> float:
        """Median seconds from process start to the first record out."""
        return statistics.median(s.startup_s for s in self.samples)


#: Targets from issue 8, reported and not asserted.
QUIX_TARGET = 1.5
RSS_TARGET_MB = 150.0
#: Issue 18's targets against JVM Kafka Connect: ours ÷ JVM, records per CPU-second at least,
#: peak RSS and start-up to first record at most.
JVM_TARGETS = {"per_cpu_s": 0.5, "rss": 1 / 3, "startup": 1 / 2}


def _ratio(row: Row, rows: dict[str, Row], key: str | None = None) -> float | None:
    base = rows.get(row.baseline if key is None else key)
    if base is None or not base.samples or not row.samples or not base.median():
        return None
    return row.median() / base.median()


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def table_lines(rows: list[Row]) -> list[str]:
    by_key = {row.key: row for row in rows}
    header = (
        f"{'key':<15} {'row':<42} {'broker':<6} {'median':>11} {'min-max':>19} {'MB/s':>6} "
        f"{'p50/p99 ms':>11} {'RSS MB':>7}  {'ratio':>5} {'vs':<14} {'target':<10} {'x Quix':<10}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        if not row.samples:
            lines.append(f"{row.key:<15} {row.title:<42} {row.broker:<6} failed: {row.note}")
            continue
        low, high = row.spread()
        unit = f" {row.unit}" if row.unit != "rec/s" else ""
        latency = row.latency()
        lat = f"{latency[0]:.0f}/{latency[1]:.0f}" if latency else "-"
        mbps = f"{row.mb_per_s():.1f}" if row.unit == "rec/s" else "-"
        ratio = _ratio(row, by_key)
        ratio_text = "-" if ratio is None else f"{ratio:.2f}" if ratio >= 0.095 else f"{ratio:.2g}"
        target = ""
        if row.target is not None:
            if row.unit != "rec/s":
                met = row.median() < row.target
                target = f"<{row.target:g}{row.unit} {'ok' if met else 'MISS'}"
            elif ratio is not None:
                target = f">={row.target:g} {'ok' if ratio >= row.target else 'MISS'}"
        rss = f"{row.rss():.0f}" if row.rss() else "-"
        if row.worker and row.rss():
            rss += " ok" if row.rss() < RSS_TARGET_MB else " !"
        quix = _ratio(row, by_key, row.quix) if row.quix else None
        quix_text = (
            f"{quix:.2f} {'ok' if quix >= QUIX_TARGET else 'MISS'}" if quix is not None else ""
        )
        lines.append(
            f"{row.key:<15} {row.title:<42} {row.broker:<6} {_fmt(row.median()) + unit:>11} "
            f"{_fmt(low) + '-' + _fmt(high):>19} {mbps:>6} {lat:>11} {rss:>7}  "
            f"{ratio_text:>5} {row.baseline:<14} {target:<10} {quix_text:<10}"
        )
    return lines


def jvm_ratios(row: Row, jvm: Row) -> dict[str, float]:
    """Ours ÷ the JVM's: records/s, records per CPU-second, peak RSS, start-up."""
    out = {"rate": row.median() / jvm.median() if jvm.median() else 0.0}
    if jvm.per_cpu_second():
        out["per_cpu_s"] = row.per_cpu_second() / jvm.per_cpu_second()
    if jvm.rss():
        out["rss"] = row.rss() / jvm.rss()
    if jvm.startup() and row.startup():
        out["startup"] = row.startup() / jvm.startup()
    return out


def _jvm_cell(
    ratios: dict[str, float], name: str, at_least: bool, target: float | None = None
) -> str:
    if name not in ratios:
        return "-"
    value = ratios[name]
    if target is None:
        target = JVM_TARGETS.get(name)
    if target is None:
        return f"{value:.2f}"
    met = value >= target if at_least else value <= target
    return f"{value:.2f} {'ok' if met else 'MISS'}"


def jvm_lines(rows: list[Row]) -> list[str]:
    """The rows that measured CPU and start-up, each of ours with its ratios to the JVM row
    doing the same work and the issue's targets for them."""
    by_key = {row.key: row for row in rows}
    measured = [row for row in rows if row.samples and any(s.cpu_s for s in row.samples)]
    if not measured:
        return []
    header = (
        f"{'key':<13} {'rec/s':>9} {'CPU s/M':>8} {'rec/CPU-s':>9} {'RSS MB':>7} "
        f"{'start s':>7}  {'÷ JVM:':<6} {'rec/s':>9} {'rec/CPU-s':>12} {'RSS':>11} {'start-up':>11}"
    )
    lines = [header, "-" * len(header)]
    for row in measured:
        line = (
            f"{row.key:<13} {_fmt(row.median()):>9} {row.cpu_per_million():>8.1f} "
            f"{_fmt(row.per_cpu_second()):>9} {row.rss():>7.0f} "
            f"{f'{row.startup():.2f}' if row.startup() else '-':>7}"
        )
        jvm = by_key.get(row.jvm)
        if jvm is not None and jvm.samples:
            ratios = jvm_ratios(row, jvm)
            line += (
                f"  {'':<6} {_jvm_cell(ratios, 'rate', True, row.jvm_rate):>9} "
                f"{_jvm_cell(ratios, 'per_cpu_s', True):>12} "
                f"{_jvm_cell(ratios, 'rss', False):>11} {_jvm_cell(ratios, 'startup', False):>11}"
            )
        lines.append(line)
    return lines


def print_table(rows: list[Row]) -> str:
    text = "\n".join(table_lines(rows))
    if extra := jvm_lines(rows):
        text += "\n\nCPU, memory and start-up beside JVM Kafka Connect (targets: ours ÷ JVM "
        text += "rec/CPU-s >= 0.5, RSS <= 0.33, start-up <= 0.5; CDC rec/s >= 1):\n"
        text += "\n".join(extra)
    print(text, flush=True)
    return text


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    load = Path("/proc/loadavg").read_text().split()[:3]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": len([x for x in Path("/proc/cpuinfo").read_text().split("\n\n") if x.strip()]),
        "python": platform.python_version(),
        "load_before": load,
        "commit": commit,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def write_json(
    rows: list[Row], settings: dict[str, Any], folder: Path, info: dict[str, Any]
) -> Path:
    """Write every row (with its raw samples) to ``bench/results/bench-<time>.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    by_key = {row.key: row for row in rows}
    out = []
    for row in rows:
        entry: dict[str, Any] = {
            "key": row.key,
            "title": row.title,
            "broker": row.broker,
            "unit": row.unit,
            "baseline": row.baseline,
            "target": row.target,
            "note": row.note,
            "samples": [
                {**dataclasses.asdict(s), "latencies_ms": None, "rate": s.rate} for s in row.samples
            ],
        }
        if row.samples:
            latency = row.latency()
            entry.update(
                median=row.median(),
                min=row.spread()[0],
                max=row.spread()[1],
                mb_per_s=row.mb_per_s(),
                rss_mb=row.rss(),
                ratio=_ratio(row, by_key),
                quix=row.quix,
                ratio_quix=_ratio(row, by_key, row.quix) if row.quix else None,
                p50_ms=latency[0] if latency else None,
                p99_ms=latency[1] if latency else None,
            )
            if any(s.cpu_s for s in row.samples):
                entry.update(
                    cpu_s_per_million=row.cpu_per_million(),
                    records_per_cpu_s=row.per_cpu_second(),
                    startup_s=row.startup(),
                    jvm=row.jvm,
                )
                if (jvm := by_key.get(row.jvm)) is not None and jvm.samples:
                    entry["ratio_jvm"] = jvm_ratios(row, jvm)
        out.append(entry)
    path = folder / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    data = {"machine": info, "settings": settings, "rows": out}
    path.write_text(json.dumps(data, indent=1))
    (folder / "latest.json").write_text(json.dumps(data, indent=1))
    return path
