"""The Python anchor: anyascii transliteration + rapidfuzz Jaro-Winkler.

Reads list.tsv (entry_id, name), queries.tsv (query, truth_id) and
ours_top.tsv (query index, tansiq-match's hits) written by the Rust bench
(`--dump DIR`), scores the first N queries against every name with
rapidfuzz.process.cdist (workers=2), and prints throughput and recall beside
tansiq-match's on the same queries.
"""
import json
import sys
import time

import numpy as np
from anyascii import anyascii as any_ascii
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

JW_THRESHOLD = 0.9
TOP = 5


def translit(s):
    a = any_ascii(s).lower()
    return " ".join("".join(c if c.isalnum() else " " for c in a).split())


def main():
    work, n = sys.argv[1], int(sys.argv[2])
    ids, names = [], []
    with open(f"{work}/list.tsv", encoding="utf-8") as f:
        for line in f:
            e, name = line.rstrip("\n").split("\t", 1)
            ids.append(e)
            names.append(name)
    queries, truth = [], []
    with open(f"{work}/queries.tsv", encoding="utf-8") as f:
        for line in f:
            q, t = line.rstrip("\n").split("\t", 1)
            queries.append(q)
            truth.append(t)
    queries, truth = queries[:n], truth[:n]
    ours = json.load(open(f"{work}/ours.json", encoding="utf-8"))
    ids = np.array(ids)

    t0 = time.perf_counter()
    choices = [translit(x) for x in names]
    prep = time.perf_counter() - t0
    top1 = found = 0
    t0 = time.perf_counter()
    chunk = 100
    for s in range(0, len(queries), chunk):
        qs = [translit(q) for q in queries[s : s + chunk]]
        m = process.cdist(qs, choices, scorer=JaroWinkler.normalized_similarity, workers=2, dtype=np.float32)
        for r, row in enumerate(m):
            t = truth[s + r]
            order = np.argpartition(-row, TOP * 4)[: TOP * 4]
            order = order[np.argsort(-row[order])]
            seen, hits = set(), []
            for k in order:
                e = ids[k]
                if e not in seen:
                    seen.add(e)
                    hits.append((e, row[k]))
                if len(hits) == TOP:
                    break
            if hits and hits[0][0] == t:
                top1 += 1
            if any(e == t and sc >= JW_THRESHOLD for e, sc in hits):
                found += 1
    secs = time.perf_counter() - t0
    qps = len(queries) / secs
    o_top1 = sum(1 for i, t in enumerate(truth) if ours["top"][i][:1] == [t]) / len(queries)
    o_found = sum(1 for i, t in enumerate(truth) if t in ours["top"][i]) / len(queries)
    print(f"list: {len(names)} names; {len(queries)} queries; transliteration of the list {prep:.1f} s")
    print(f"{'system':<44} {'queries/s':>10} {'top-1':>7} {'recall@thr':>10}")
    print(f"{'tansiq-match screen_batch (threshold %.2f)' % ours['threshold']:<44} {ours['qps']:>10.0f} {o_top1:>7.3f} {o_found:>10.3f}")
    print(f"{'rapidfuzz cdist JW + anyascii (JW >= %.2f)' % JW_THRESHOLD:<44} {qps:>10.1f} {top1 / len(queries):>7.3f} {found / len(queries):>10.3f}")
    print(f"throughput ratio tansiq-match / rapidfuzz: {ours['qps'] / qps:.0f}x")


if __name__ == "__main__":
    main()
