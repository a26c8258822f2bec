"""The JVM parts the tests run beside us, resolved by Maven from ``jvm/pom.xml``.

Each profile of the pom (``broker``: Apache Kafka; ``connect``: Kafka Connect's distributed
worker, for the differential tests) is resolved once into Maven's local repository and its class
path written to a cache folder outside the work tree, keyed by the pom's contents, so a changed
pin resolves again and an unchanged one costs nothing. ``python -m tests.jvm broker`` resolves
ahead of a test run and prints what it fetched and how long it took.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POM = ROOT / "jvm" / "pom.xml"


def cache_dir() -> Path:
    """Where resolved class paths are kept: ``$XDG_CACHE_HOME/faust-connect/jvm``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "faust-connect" / "jvm"


def _cached(path: Path) -> str | None:
    if not path.exists():
        return None
    entries = path.read_text().strip().split(os.pathsep)
    if entries and all(Path(entry).exists() for entry in entries):
        return os.pathsep.join(entries)
    return None  # Maven's repository was cleaned since: resolve again


def classpath(profile: str, *, quiet: bool = False) -> str:
    """The class path of ``profile``, resolving it with Maven on first use."""
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:16]
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{profile}-{digest}.classpath"
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one resolve at a time, across processes
        if (found := _cached(target)) is not None:
            return found
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeError(
                "Maven (mvn) is not on PATH: it resolves the JVM parts of jvm/pom.xml"
            )
        if not quiet:
            print(f"jvm: resolving profile {profile!r} of {POM} with Maven", file=sys.stderr)
        started = time.monotonic()
        done = subprocess.run(
            [
                mvn,
                "--batch-mode",
                "--quiet",
                "--file",
                str(POM),
                f"--activate-profiles={profile}",
                "dependency:build-classpath",
                f"-Dmdep.outputFile={target}.partial",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"Maven could not resolve profile {profile!r} of {POM}:\n{done.stdout}{done.stderr}"
            )
        Path(f"{target}.partial").replace(target)
        jars = target.read_text().strip().split(os.pathsep)
        if not quiet:
            size = sum(Path(jar).stat().st_size for jar in jars) / 1e6
            took = time.monotonic() - started
            print(
                f"jvm: {profile}: {len(jars)} jars ({size:.0f} MB) resolved in {took:.1f} s",
                file=sys.stderr,
            )
        return os.pathsep.join(jars)


def java() -> str:
    """The ``java`` launcher (``$JAVA_HOME/bin/java`` first)."""
    home = os.environ.get("JAVA_HOME")
    if home and (candidate := Path(home) / "bin" / "java").exists():
        return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise RuntimeError("no java on PATH (Java 17 runs the Kafka broker of the tests)")
    return found


def main(argv: list[str] | None = None) -> None:
    """Resolve the named profiles now (``python -m tests.jvm broker``)."""
    parser = argparse.ArgumentParser(prog="python -m tests.jvm", description=main.__doc__)
    parser.add_argument("profiles", nargs="+")
    for profile in parser.parse_args(argv).profiles:
        started = time.monotonic()
        jars = classpath(profile).split(os.pathsep)
        took = time.monotonic() - started
        print(f"jvm: {profile}: {len(jars)} jars ready ({took:.1f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
