#!/usr/bin/env python3
"""Checks payloads dumped by the scenario tests against the official OCPP 1.6 JSON schemas.

Usage:
  CHARGER_CORE_FRAME_DUMP=/tmp/frames.jsonl cargo test -p charger-core --test scenarios
  python3 firmware/core/tests/check_official_schemas.py /tmp/frames.jsonl SCHEMA_DIR

SCHEMA_DIR holds the OCA files (e.g. `BootNotification.json`, `BootNotificationResponse.json`);
the PyPI package `ocpp` ships them under `ocpp/v16/schemas/`. Needs `jsonschema`.
"""
import json
import sys
from collections import Counter

import jsonschema


def main() -> int:
    dump, schema_dir = sys.argv[1], sys.argv[2]
    cache, seen, bad = {}, Counter(), 0
    checker = jsonschema.Draft4Validator.FORMAT_CHECKER
    with open(dump) as f:
        for n, line in enumerate(f, 1):
            rec = json.loads(line)
            name = rec["schema"]
            if name not in cache:
                with open(f"{schema_dir}/{name}.json") as s:
                    cache[name] = jsonschema.Draft4Validator(json.load(s), format_checker=checker)
            errors = list(cache[name].iter_errors(rec["payload"]))
            seen[name] += 1
            for e in errors:
                bad += 1
                print(f"line {n}: {name}: {e.message}")
    for name, count in sorted(seen.items()):
        print(f"{count:6d} {name}")
    print(f"{sum(seen.values())} payloads, {bad} schema violations")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
