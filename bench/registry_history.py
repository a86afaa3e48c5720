"""What the registry's history costs: the registry at a past instant, and keeping a version.

    python -m bench.registry_history

For the demo hall (simulator/hall.yaml) and a generated hall of 2,000 and of 10,000 desks
(bench/scale_out.py's generator), each in a SQLite registry imported twice (the second time
with one window renamed, so that there are two versions), as medians of 5 repetitions:
- `load_deployment_at` of an instant before the rename, cold (the version parsed: what the
  first report of a month pays) and warm (the parsed version kept in the process: one query);
- `load_deployment` of the current rows, for comparison;
- `pack`: the registry written as YAML and compressed, what each change now adds;
- a version's size, compressed, beside its YAML.
"""

from __future__ import annotations

import platform
import re
import statistics
import tempfile
import timeit
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.scale_out import registry_yaml
from hallwatch.registry.db import create_schema, make_engine, make_session_factory
from hallwatch.registry.dump import deployment_yaml
from hallwatch.registry.importing import import_file
from hallwatch.registry.load import load_deployment
from hallwatch.registry.versions import PARSED, load_deployment_at, pack

REPEAT = 5
TZ = "Asia/Shanghai"
FIRST = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)  # fixed instants: versions need no wall clock
RENAMED = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
DEMO = Path(__file__).resolve().parent.parent / "simulator" / "hall.yaml"


def median_s(statement, number: int = 1) -> float:
    return statistics.median(timeit.repeat(statement, number=number, repeat=REPEAT)) / number


def _renamed(text: str) -> str:
    """The file with its first window renamed (one change: a second version)."""
    head, _, tail = text.partition("\nwindows:\n")
    renamed = re.sub(r"(- \{id: [^,]+, name: )", r"\1改名", tail, count=1)
    assert renamed != tail, "no window entry found"
    return head + "\nwindows:\n" + renamed


def figures(name: str, text: str, workdir: Path) -> dict[str, float]:
    first, second = workdir / f"{name}-1.yaml", workdir / f"{name}-2.yaml"
    first.write_text(text, encoding="utf-8")
    second.write_text(_renamed(text), encoding="utf-8")
    engine = make_engine(f"sqlite:///{workdir / f'{name}.sqlite3'}")
    create_schema(engine)
    sessions = make_session_factory(engine)
    import_file(sessions, first, now=FIRST)
    import_file(sessions, second, now=RENAMED)
    before = RENAMED - timedelta(days=1)

    def cold():
        PARSED._kept.clear()
        with sessions() as session:
            load_deployment_at(session, before)

    def warm():
        with sessions() as session:
            load_deployment_at(session, before)

    def rows():
        with sessions() as session:
            load_deployment(session)

    with sessions() as session:
        current = load_deployment(session)
    found = {
        "load_deployment_at cold": median_s(cold) * 1e3,
        "load_deployment_at warm": median_s(warm, 50) * 1e3,
        "load_deployment (rows)": median_s(rows) * 1e3,
        "pack (per change)": median_s(lambda: pack(current)) * 1e3,
        "YAML KiB": len(deployment_yaml(current).encode()) / 1024,
        "version KiB": len(zlib.compress(deployment_yaml(current).encode(), 6)) / 1024,
    }
    engine.dispose()
    return found


def main() -> None:
    print(f"python {platform.python_version()} on {platform.processor() or platform.machine()}")
    today = "2026-12-01"
    halls = [("demo hall", DEMO.read_text(encoding="utf-8"))]
    halls += [(f"{desks:,} desks", registry_yaml(desks, TZ, today)) for desks in (2_000, 10_000)]
    with tempfile.TemporaryDirectory() as tmp:
        for index, (name, text) in enumerate(halls):
            found = figures(f"hall{index}", text, Path(tmp))
            print(f"{name}:")
            for what, value in found.items():
                unit = "" if "KiB" in what else " ms"
                print(f"  {what:<26} {value:9.2f}{unit}")


if __name__ == "__main__":
    main()
