#!/usr/bin/env python3
"""The sample events and the status each must answer, for the scripts that replay them.

    scripts/expected_status.py [EVENTS_DIR]     (default: events)

Reads EVENTS_DIR/expected-status.json as JSON and prints one "FILE STATUS" line per event,
sorted by file. Fails (exit 1, saying why) when its keys are not exactly the event files
of EVENTS_DIR (every *.json but expected-status.json), in either direction, when a key is
repeated, when a status is not an HTTP status, or when there are no events at all: a
replay loop must never pass by running fewer events than there are.
"""

import json
import re
import sys
from pathlib import Path

LIST = "expected-status.json"
# The scripts split each line on white space, so a name must not hold any.
NAME = re.compile(r"[A-Za-z0-9._-]+\.json")


def no_repeats(pairs):
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(f"repeated keys: {', '.join(repeated)}")
    return dict(pairs)


def expected(events: Path) -> list[tuple[str, int]]:
    """The (file, status) pairs, or ValueError naming every disagreement."""
    try:
        statuses = json.loads((events / LIST).read_text(encoding="utf-8"), object_pairs_hook=no_repeats)
    except (OSError, ValueError) as e:  # a JSONDecodeError is a ValueError
        raise ValueError(f"cannot read {events / LIST}: {e}") from e
    if not isinstance(statuses, dict):
        raise ValueError(f"{events / LIST} is not a JSON object")
    problems = []
    for name, status in sorted(statuses.items()):
        if not NAME.fullmatch(name) or name == LIST:
            problems.append(f"{name!r} is not an event file name")
        if not isinstance(status, int) or not 100 <= status <= 599:
            problems.append(f"{name}: {status!r} is not an HTTP status")
    files = {p.name for p in events.glob("*.json") if p.name != LIST}
    for name in sorted(files - statuses.keys()):
        problems.append(f"events/{name} has no entry in {LIST}")
    for name in sorted(statuses.keys() - files):
        problems.append(f"{LIST} lists {name}, which is not in {events}/")
    if not statuses and not files:
        problems.append(f"no events in {events}/")
    if problems:
        raise ValueError("; ".join(problems))
    return sorted(statuses.items())


def main() -> int:
    events = Path(sys.argv[1] if len(sys.argv) > 1 else "events")
    try:
        pairs = expected(events)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for name, status in pairs:
        print(name, status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
