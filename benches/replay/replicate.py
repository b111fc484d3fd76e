#!/usr/bin/env python3
"""Makes an NDJSON cohort N times bigger, for benches/replay.sh.

    python3 benches/replay/replicate.py SRC_DIR OUT_DIR N

Copy k (k = 0 .. N-1) of every line has each UUID-shaped string (ids, references, identifiers
that are UUIDs) rewritten by XOR-ing its last 16 bits with k: a bijection for each k, the same
for a UUID wherever it appears, so references inside copy k still point into copy k, and copy 0
is the original. Everything is copied, including Organizations, Practitioners and Locations,
so the output is exactly N times the input. The output has one file per input file name
(`Observation.000.ndjson`, ...), each holding the N copies of its input's lines.

The output is written to OUT_DIR.partial and renamed to OUT_DIR at the end; OUT_DIR.done
records what it was made from, and a second run with the same arguments does nothing.
Deterministic: no clock, no randomness. Streams the input in batches of lines (memory stays
about one batch times two, whatever the size of the files).
"""

import os
import re
import shutil
import sys
from pathlib import Path

UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
BATCH_BYTES = 8 << 20


def rewriter(k):
    """A function for UUID.sub giving the copy-k form of a matched UUID (cached per UUID)."""
    cache = {}

    def sub(m):
        u = m.group()
        new = cache.get(u)
        if new is None:
            new = u[:32] + b"%04x" % (int(u[32:], 16) ^ k)
            cache[u] = new
        return new

    return sub


def inputs(src):
    files = sorted(p for p in src.rglob("*.ndjson") if p.is_file())
    names = [p.name for p in files]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        sys.exit(f"replicate.py: several input files named {', '.join(dup)} under {src}")
    if not files:
        sys.exit(f"replicate.py: no *.ndjson under {src}")
    return files


def replicate(src, out, n):
    subs = [rewriter(k) for k in range(n)]
    for path in inputs(src):
        with open(path, "rb") as fin, open(out / path.name, "wb") as fout:
            while True:
                lines = fin.readlines(BATCH_BYTES)
                if not lines:
                    break
                if not lines[-1].endswith(b"\n"):
                    lines[-1] += b"\n"
                batch = b"".join(lines)
                fout.write(batch)
                for k in range(1, n):
                    fout.write(UUID.sub(subs[k], batch))


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    src, out, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    if n < 1 or n > 0x10000:
        sys.exit("replicate.py: N must be between 1 and 65536")
    if not src.is_dir():
        sys.exit(f"replicate.py: {src} is not a folder")
    stamp = f"src={src.resolve()} n={n} files=" + ",".join(
        f"{p.name}:{p.stat().st_size}" for p in inputs(src)
    )
    done = out.with_name(out.name + ".done")
    if out.is_dir() and done.is_file() and done.read_text() == stamp:
        print(f"{out}: up to date (x{n})", file=sys.stderr)
        return
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    replicate(src, partial, n)
    done.unlink(missing_ok=True)
    shutil.rmtree(out, ignore_errors=True)
    os.rename(partial, out)
    done.write_text(stamp)
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"{out}: x{n}, {size} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
