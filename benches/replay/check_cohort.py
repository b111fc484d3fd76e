#!/usr/bin/env python3
"""Checks a cohort made by replicate.py against its source.

    python3 benches/replay/check_cohort.py SRC_DIR OUT_DIR N

Checks that OUT_DIR has N times the lines and Patients of SRC_DIR, that the N * P Patient ids
are distinct, that ids repeat only as often as in the source times N (Synthea's export repeats
shared resources such as Practitioners), that every line of the output belongs to one copy k
(its id is a source id rewritten for k), and that every `Type/<uuid>` reference in a line of
copy k names a resource of copy k (dangling references: N times as many as in the source).
Prints counts only (no ids or values). Exits 1 on the first kind of failure found.
"""

import json
import re
import sys
from collections import Counter
from pathlib import Path

REF = re.compile(
    rb'"reference":"([A-Za-z]+)/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"'
)


def lines(folder):
    for path in sorted(folder.rglob("*.ndjson")):
        with open(path, "rb") as f:
            for line in f:
                if line.strip():
                    yield line


def copy_index(by_prefix, n, t, i):
    """The copy k whose rewrite of a source id of type t gives i, or None if not exactly one."""
    ks = [
        int(orig[32:], 16) ^ int(i[32:], 16)
        for orig in by_prefix.get((t, i[:32]), [])
        if int(orig[32:], 16) ^ int(i[32:], 16) < n
    ]
    return ks[0] if len(ks) == 1 else None


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    src, out, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])

    # Source: full ids by (type, first 32 characters), and references that name no resource.
    # Synthea repeats shared resources (Practitioner, Location, ...) in its export: the copies
    # must repeat them as often, no more.
    by_prefix = {}
    src_keys = set()
    src_lines = src_patients = src_dups = 0
    for line in lines(src):
        r = json.loads(line)
        src_lines += 1
        src_patients += r["resourceType"] == "Patient"
        key = (r["resourceType"], r["id"])
        src_dups += key in src_keys
        src_keys.add(key)
        by_prefix.setdefault((r["resourceType"], r["id"][:32]), set()).add(r["id"])
    src_dangling = sum(
        (m.group(1).decode(), m.group(2).decode()) not in src_keys
        for line in lines(src)
        for m in REF.finditer(line)
    )

    # Output, first pass: the copy of every resource.
    copy = {}
    sizes = Counter()
    out_lines = out_patients = dup = bad_copy = 0
    for line in lines(out):
        r = json.loads(line)
        out_lines += 1
        key = (r["resourceType"], r["id"])
        out_patients += key[0] == "Patient"
        k = copy_index(by_prefix, n, *key)
        if k is None:
            bad_copy += 1
            continue
        if key in copy:
            dup += 1
        copy[key] = k
        sizes[k] += 1

    # Second pass: each reference names a resource of the referring line's own copy (or none,
    # as many times as in the source).
    refs = cross = dangling = patient_refs = 0
    for line in lines(out):
        r = json.loads(line)
        k = copy.get((r["resourceType"], r["id"]))
        for m in REF.finditer(line):
            target = (m.group(1).decode(), m.group(2).decode())
            refs += 1
            patient_refs += target[0] == "Patient"
            if target not in copy:
                dangling += 1
            elif copy[target] != k:
                cross += 1

    print(
        f"source: {src_lines} lines, {src_patients} patients, {src_dups} repeated ids, {src_dangling} references to "
        f"resources not in the data; output: {out_lines} lines, {out_patients} patients in "
        f"{len(sizes)} copies, {dup} repeated ids, {refs} references ({patient_refs} to Patients), {dangling} to "
        f"resources not in the data"
    )
    failures = []
    if out_lines != n * src_lines:
        failures.append(f"{out_lines} lines, expected {n * src_lines}")
    distinct_patients = sum(1 for t, _ in copy if t == "Patient")
    if distinct_patients != out_patients:
        failures.append(f"{out_patients} Patients but {distinct_patients} distinct Patient ids")
    if out_patients != n * src_patients:
        failures.append(f"{out_patients} patients, expected {n * src_patients}")
    if dup != n * src_dups:
        failures.append(f"{dup} repeated resource ids, expected {n * src_dups}")
    if bad_copy:
        failures.append(f"{bad_copy} lines belong to no single copy")
    if sorted(sizes) != list(range(n)) or len(set(sizes.values())) != 1:
        failures.append("copies of unequal sizes")
    if cross:
        failures.append(f"{cross} references name a resource of another copy")
    if dangling != n * src_dangling:
        failures.append(f"{dangling} dangling references, expected {n * src_dangling}")
    if failures:
        print("FAILED: " + "; ".join(failures))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
