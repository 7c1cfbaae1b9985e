"""Screening from a cold start (issue 16 §3): the workload and the Python anchor.

  python3 cold_screen.py make NAMES_DIR WORK   # writes list.jsonl, queries.jsonl, truth.tsv
  python3 cold_screen.py anchor WORK           # rapidfuzz cdist JW over anyascii, top 10
  python3 cold_screen.py recall WORK OURS.jsonl  # R@1 / R@10 of `tansiq screen` output

The list is mixed-script, each entry in one script only: the people of
`wikidata-full-names.dev.tsv` (one per Arabic name), split by a hash of
that name into entries listed in Arabic script (the Arabic name) and
entries listed in Latin script (its Latin spellings; Wikidata "alias" rows
as weak names), topped up to 75,757 entries with people recombined from
the dev names (given name of one, family name of another), also in one
script each. The queries are 10,000 listed people (a fixed draw) written
in the *other* script: an Arabic-listed person is screened by one of its
Latin spellings, a Latin-listed one by its Arabic name. Every query
therefore sees its tokens for the first time in that process, as a
passenger manifest or a list update does.

The anchor scores every query against every name with rapidfuzz's
`process.cdist` (Jaro-Winkler, `workers=2`) over `anyascii`
transliteration, keeps each query's 10 best entries (threshold 0), and is
timed from reading the files to the last query's top 10 (the list's
transliteration included, as `tansiq screen` is timed with its index
build).
"""
import hashlib
import json
import random
import sys
import time

ENTRIES = 75_757
QUERIES = 10_000
TOP = 10


def h(s):
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big")


def make(names_dir, work):
    people = {}
    with open(f"{names_dir}/wikidata-full-names.dev.tsv", encoding="utf-8") as f:
        next(f)
        for line in f:
            ar, lat, lang = line.rstrip("\n").split("\t")[:3]
            p = people.setdefault(ar, ([], []))
            (p[1] if lang == "alias" else p[0]).append(lat)
    rng = random.Random(16)
    entries, qs = [], []
    keys = sorted(people)
    for i, ar in enumerate(keys):
        strong, weak = people[ar]
        if not strong:
            strong, weak = weak[:1], weak[1:]
        eid = f"P{i}"
        if h(ar) % 2 == 0:
            entries.append({"id": eid, "names": [ar]})
            qs.append((eid, strong[rng.randrange(len(strong))]))
        else:
            e = {"id": eid, "names": strong}
            if weak:
                e["weak_names"] = weak
            entries.append(e)
            qs.append((eid, ar))
    # Recombined people: given name of one row, family name of another.
    pairs = [(ar.split(), people[ar][0][0].split()) for ar in keys if people[ar][0]]
    pairs = [(a, l) for a, l in pairs if len(a) >= 2 and len(l) >= 2]
    n = 0
    while len(entries) < ENTRIES:
        (a1, l1), (a2, l2) = rng.choice(pairs), rng.choice(pairs)
        eid = f"S{n}"
        n += 1
        if rng.random() < 0.5:
            entries.append({"id": eid, "names": [f"{a1[0]} {a2[-1]}"]})
        else:
            entries.append({"id": eid, "names": [f"{l1[0]} {l2[-1]}"]})
    rng.shuffle(qs)
    qs = qs[:QUERIES]
    with open(f"{work}/list.jsonl", "w", encoding="utf-8") as f:
        for e in entries:
            f.write(json.dumps(e, ensure_ascii=False) + "\n")
    with open(f"{work}/queries.jsonl", "w", encoding="utf-8") as f:
        for k, (eid, name) in enumerate(qs):
            f.write(json.dumps({"id": f"q{k}", "name": name}, ensure_ascii=False) + "\n")
    with open(f"{work}/truth.tsv", "w", encoding="utf-8") as f:
        for k, (eid, _) in enumerate(qs):
            f.write(f"q{k}\t{eid}\n")
    names = sum(len(e["names"]) + len(e.get("weak_names", [])) for e in entries)
    print(f"list: {len(entries)} entries, {names} names; {len(qs)} queries")


def truth(work):
    with open(f"{work}/truth.tsv", encoding="utf-8") as f:
        return dict(line.rstrip("\n").split("\t") for line in f)


def report(label, tops, t):
    r1 = sum(1 for q, top in tops.items() if top[:1] == [t[q]]) / len(t)
    r10 = sum(1 for q, top in tops.items() if t[q] in top) / len(t)
    print(f"{label}: R@1 {r1:.4f}  R@10 {r10:.4f}")


def anchor(work):
    import numpy as np
    from anyascii import anyascii
    from rapidfuzz import process
    from rapidfuzz.distance import JaroWinkler

    def translit(s):
        a = anyascii(s).lower()
        return " ".join("".join(c if c.isalnum() else " " for c in a).split())

    t0 = time.perf_counter()
    ids, names = [], []
    with open(f"{work}/list.jsonl", encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            for n in e["names"] + e.get("weak_names", []):
                ids.append(e["id"])
                names.append(translit(n))
    qids, queries = [], []
    with open(f"{work}/queries.jsonl", encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            qids.append(q["id"])
            queries.append(translit(q["name"]))
    ids = np.array(ids)
    tops = {}
    for s in range(0, len(queries), 200):
        m = process.cdist(
            queries[s : s + 200], names, scorer=JaroWinkler.normalized_similarity,
            workers=2, dtype=np.float32,
        )
        for r, row in enumerate(m):
            order = np.argpartition(-row, TOP * 4)[: TOP * 4]
            order = order[np.argsort(-row[order], kind="stable")]
            seen = []
            for k in order:
                if ids[k] not in seen:
                    seen.append(ids[k])
                if len(seen) == TOP:
                    break
            tops[qids[s + r]] = seen
    secs = time.perf_counter() - t0
    print(f"rapidfuzz: {len(queries)} queries x {len(names)} names in {secs:.2f} s = {len(queries) / secs:.0f} queries/s")
    report("rapidfuzz", tops, truth(work))


def recall(work, ours):
    tops = {}
    with open(ours, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            tops[r["query_id"]] = [x["entry_id"] for x in r["hits"]]
    report("tansiq", tops, truth(work))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2], sys.argv[3])
    elif cmd == "anchor":
        anchor(sys.argv[2])
    elif cmd == "recall":
        recall(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {cmd}")
