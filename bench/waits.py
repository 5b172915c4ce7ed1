"""Summarises scripts/bench.sh's wait samples (WAITS=1): every 50 ms during the capture run, the
number of captures stored so far (the `requests` identity sequence) and the wait event of each
active database backend. Prints where the capture statement's backends waited, and the 250 ms
windows in which captures were stored at under 40 % of the run's median rate, with what the
backends were waiting on then.

    waits.py SAMPLES_FILE
"""
import collections
import datetime
import statistics
import sys

rows = []
for line in open(sys.argv[1]):
    parts = line.rstrip("\n").split("|", 2)
    if len(parts) < 3 or not parts[1]:
        continue
    try:
        at = datetime.datetime.fromisoformat(parts[0].replace("+00", "+00:00"))
    except ValueError:
        continue
    waits = [w for w in parts[2].split(";") if w]
    rows.append((at, int(parts[1]), waits))

# Only the stretch in which captures were stored (the run itself).
moving = [i for i in range(1, len(rows)) if rows[i][1] != rows[i - 1][1]]
if not moving:
    print("== waits: no captures stored while sampling")
    sys.exit(0)
rows = rows[moving[0] - 1 : moving[-1] + 1]

writer = collections.Counter()
for _, _, waits in rows:
    for w in waits:
        writer[w] += 1
total = len(rows)
top = ", ".join(f"{w} {n / total:.0%}" for w, n in writer.most_common(6))
print(f"== waits of the capture statement's backends ({total} samples, share of samples): {top}")

windows = []
for i in range(len(rows) - 5):
    (start, stored_before, _), (end, stored_after, _) = rows[i], rows[i + 5]
    dt = (end - start).total_seconds()
    if dt > 0:
        waits = [w for _, _, ws in rows[i : i + 5] for w in ws]
        windows.append((start, (stored_after - stored_before) / dt, waits))
median = statistics.median(r for _, r, _ in windows)
slow = [w for w in windows if w[1] < 0.4 * median]
seen = collections.Counter(x for _, _, ws in slow for x in ws)
print(
    f"== slow 250 ms windows (< 40 % of the median {median:,.0f} captures/s): {len(slow)} of {len(windows)};"
    f" waits in them: " + (", ".join(f"{w} ×{n}" for w, n in seen.most_common(5)) or "none (the backends were not waiting)")
)
