"""Shopee - Price Match Guarantee (Kaggle 2021) ``train.csv``: marketplace listings grouped by product.

Columns: ``posting_id, image, image_phash, title, label_group`` (UTF-8 CSV; only posting_id, title and
label_group are used). Two postings with the same ``label_group`` are the same product. Titles are
Indonesian/English mixes; some carry literal UTF-8 byte escapes (``Nescafe \\xc3\\x89clair``) and HTML
entities, which are decoded.

Pair labels (view ``product_pairs``), mined from the groups:
- exact: two postings of the same label_group;
- partial: postings of different groups whose titles overlap strongly: token Jaccard >= 0.5 (param
  ``partial_jaccard``) on lower-cased word tokens of 2+ characters, found through shared rare tokens
  (document frequency <= 50), identical titles excluded. Typically another variant/size/bundle of a
  similar item, or a near-duplicate listing filed under another group;
- irrelevant: a random posting of another group whose title overlaps little (Jaccard < 0.2).

Split groups: every record carries the label_group ids of both sides (``g:<id>``), so a product group
never straddles splits. Cross-group pairs would otherwise be purged whenever their two groups hash to
different splits (most dev/test negatives). So groups linked by a partial pair are merged into small
components (<= 8 groups), components are packed into deterministic buckets (crc32 of the component;
about 8 components a bucket, at least 50 buckets so small files still split near the ratios), and
negatives and distractors are drawn inside a bucket; the bucket key ``b:<n>`` comes FIRST, so the
splitter moves whole buckets and nothing is purged.

Example:
    >>> decode_title("Nescafe \\\\xc3\\\\x89clair Latte &amp; Milk")
    'Nescafe Éclair Latte & Milk'
    >>> decode_title('b"Baby Blanket 100 pcs"')
    'Baby Blanket 100 pcs'
"""

from __future__ import annotations

import html
import re
import zlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, iter_csv, require
from shoptune.data.sources import register
from shoptune.data.sources.base import FirstSeen, Source, ViewContext, located, view
from shoptune.errors import DataError
from shoptune.records import Label, Record
from shoptune.text import clip, norm_key

COLUMNS = ["posting_id", "title", "label_group"]
_BYTE_ESCAPES = re.compile(r"(?:\\x[0-9a-fA-F]{2})+")
# Titles containing an apostrophe were written as Python bytes literals: b"Mom's Baby Blanket".
_BYTES_REPR = re.compile(r"""^b(["'])(.*)\1$""", re.S)
_TOKEN = re.compile(r"\w+")


def decode_title(text: str) -> str:
    """Undo a ``b"..."`` bytes-literal wrapper, literal ``\\xNN`` UTF-8 byte escapes (when they form valid
    UTF-8) and HTML entities."""

    def bytes_to_text(match: re.Match[str]) -> str:
        raw = bytes(int(h, 16) for h in match.group(0).split("\\x")[1:])
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return match.group(0)  # not UTF-8: keep the escape rather than guess

    text = text.strip()
    wrapped = _BYTES_REPR.match(text)
    if wrapped:
        text = wrapped.group(2).replace("\\'", "'").replace('\\"', '"')
    return " ".join(html.unescape(_BYTE_ESCAPES.sub(bytes_to_text, text)).split())


def tokens(title: str) -> frozenset[str]:
    """Lower-cased word tokens of 2+ characters: the unit of the lexical-overlap (Jaccard) test.

    Example:
        >>> sorted(tokens("Tas Ransel Anak - TAS sekolah A"))
        ['anak', 'ransel', 'sekolah', 'tas']
    """
    return frozenset(t for t in _TOKEN.findall(title.lower()) if len(t) > 1)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


@dataclass
class _Index:
    """Groups, mined partial pairs and the bucket layout shared by both views."""

    rows: list[Row]
    members: dict[str, list[int]]  # label_group -> row indices (sorted by posting_id)
    toks: list[frozenset[str]]
    partial: list[tuple[int, int, float]]  # (row a, row b, jaccard), a's group < b's group
    component: dict[str, str]  # label_group -> component id
    bucket: dict[str, str]  # label_group -> bucket key
    bucket_groups: dict[str, list[str]]  # bucket key -> its groups (sorted)


def build_index(rows: list[Row], ctx: ViewContext) -> _Index:
    """Mine partial pairs and lay groups out in buckets (deterministic: sorted iteration, crc32 buckets)."""
    threshold = float(ctx.param("partial_jaccard", 0.5))
    max_df = int(ctx.param("rare_token_max_df", 50))
    max_component = int(ctx.param("max_component_groups", 8))
    per_bucket = int(ctx.param("components_per_bucket", 8))
    # Enough buckets that even a small file splits close to the task's ratios.
    min_buckets = int(ctx.param("min_buckets", 50))

    order = sorted(range(len(rows)), key=lambda i: (rows[i]["label_group"], rows[i]["posting_id"]))
    rows = [rows[i] for i in order]
    members: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        members[row["label_group"]].append(i)
    toks = [tokens(row["title"]) for row in rows]

    # Candidate partners share at least one rare token: cheap blocking, and rare tokens (brands, model
    # codes) are what makes two different listings look alike.
    df: dict[str, int] = defaultdict(int)
    for ts in toks:
        for t in ts:
            df[t] += 1
    postings: dict[str, list[int]] = defaultdict(list)
    for i, ts in enumerate(toks):
        for t in sorted(ts):
            if df[t] <= max_df:
                postings[t].append(i)
    best: dict[tuple[str, str], tuple[float, int, int]] = {}
    for i, ts in enumerate(toks):
        group = rows[i]["label_group"]
        seen: set[int] = set()
        for t in sorted(ts):  # sorted: ties between equally good partners resolve the same way every run
            if df[t] > max_df:
                continue
            for j in postings[t]:
                if j <= i or j in seen or rows[j]["label_group"] == group:
                    continue
                seen.add(j)
                score = jaccard(ts, toks[j])
                if score < threshold or rows[i]["title_key"] == rows[j]["title_key"]:
                    continue
                other = rows[j]["label_group"]
                key = (group, other) if group < other else (other, group)
                if key not in best or score > best[key][0]:
                    best[key] = (score, i, j)

    # Merge groups along partial pairs, strongest first, into small components; a pair that would grow a
    # component past the cap is dropped, so no giant component can swallow the split.
    parent = {g: g for g in members}
    size = dict.fromkeys(members, 1)

    def find(g: str) -> str:
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    partial: list[tuple[int, int, float]] = []
    for (ga, gb), (score, i, j) in sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0])):
        ra, rb = find(ga), find(gb)
        if ra != rb:
            if size[ra] + size[rb] > max_component:
                continue
            parent[max(ra, rb)], size[min(ra, rb)] = min(ra, rb), size[ra] + size[rb]
        partial.append((i, j, score))
    component = {g: find(g) for g in members}
    n_components = len(set(component.values()))
    n_buckets = max(1, min(n_components, max(min_buckets, round(n_components / per_bucket))))
    bucket = {g: f"b:{zlib.crc32(component[g].encode()) % n_buckets}" for g in members}
    bucket_groups: dict[str, list[str]] = defaultdict(list)
    for g in sorted(members):
        bucket_groups[bucket[g]].append(g)
    return _Index(rows, dict(members), toks, sorted(partial), component, bucket, dict(bucket_groups))


@register
class Shopee(Source):
    name = "shopee"
    title = "Shopee product matching (listing titles grouped by label_group; Indonesian/English)"
    path_hint = "train.csv (UTF-8 CSV with posting_id, title, label_group; image columns unused)"
    default_view = "product_pairs"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        postings = FirstSeen("posting_id", show=repr)

        def parse(row: Row) -> Row:
            posting = require(row, "posting_id").strip()
            postings.check(row, posting)
            title = decode_title(require(row, "title"))
            if not tokens(title):
                raise DataError(row["_file"], row["_row"], "title", f"no words in title {row['title']!r}")
            postings.add(row, posting)
            return located(
                row,
                posting_id=posting,
                title=title,
                title_key=norm_key(title),
                label_group=require(row, "label_group").strip(),
            )

        return self.valid_rows(iter_csv(path, required=COLUMNS, log=log), parse, log)

    @view("product_pairs", "pair")
    def product_pairs(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Listing-listing matching: same label_group -> exact; other group with title Jaccard >= 0.5 ->
        partial; random other group with Jaccard < 0.2 -> irrelevant."""
        index = build_index(rows, ctx)
        pairs_per_group = int(ctx.param("pairs_per_group", 2))
        negatives = int(ctx.param("negatives_per_group", 1))
        max_chars = int(ctx.param("max_chars", 300))
        rs, toks = index.rows, index.toks

        def pair(i: int, j: int, label: Label, **meta: object) -> Record | None:
            gi, gj = rs[i]["label_group"], rs[j]["label_group"]
            return ctx.pair(
                rs[i],
                clip(rs[i]["title"], max_chars),
                clip(rs[j]["title"], max_chars),
                label,
                groups=list(dict.fromkeys([index.bucket[gi], f"g:{gi}", f"g:{gj}"])),
                posting_ids=[rs[i]["posting_id"], rs[j]["posting_id"]],
                jaccard=round(jaccard(toks[i], toks[j]), 3),
                **meta,
            )

        for group in sorted(index.members):
            items = index.members[group]
            combos = list(combinations(items, 2))
            for i, j in ctx.rng.sample(combos, min(pairs_per_group, len(combos))):
                yield pair(i, j, Label.exact)
            for _ in range(negatives):
                j = _random_other(index, group, ctx)
                if j is not None:
                    i = ctx.rng.choice(items)
                    if jaccard(toks[i], toks[j]) < 0.2:
                        yield pair(i, j, Label.irrelevant)
        for i, j, _score in index.partial:
            yield pair(i, j, Label.partial)

    @view("title_match_mc", "instruction")
    def title_match_mc(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Multiple choice: which of these listings sells the same product as the given one?"""
        index = build_index(rows, ctx)
        n_options = int(ctx.param("options", 4))
        max_chars = int(ctx.param("max_chars", 200))
        rs = index.rows
        hard: dict[str, list[int]] = defaultdict(list)  # group -> lexically close postings of other groups
        for i, j, _ in index.partial:
            hard[rs[i]["label_group"]].append(j)
            hard[rs[j]["label_group"]].append(i)

        def shown(i: int) -> str:
            return clip(rs[i]["title"], max_chars)

        for group in sorted(index.members):
            items = index.members[group]
            anchor = ctx.rng.choice(items)
            same = [i for i in items if i != anchor and rs[i]["title_key"] != rs[anchor]["title_key"]]
            if not same:
                continue  # only verbatim copies: nothing to recognise
            answer = ctx.rng.choice(same)
            texts = {norm_key(shown(anchor)), norm_key(shown(answer))}
            if len(texts) < 2:
                continue
            distractors: list[int] = []
            # One look-alike from another group when there is one: the question is then about details.
            candidates = sorted(set(hard.get(group, [])))
            pool = [i for g in index.bucket_groups[index.bucket[group]] if g != group for i in index.members[g]]
            for j in ctx.rng.sample(candidates, min(1, len(candidates))) + ctx.rng.sample(pool, len(pool)):
                if len(distractors) == n_options - 1:
                    break
                if norm_key(shown(j)) not in texts:
                    distractors.append(j)
                    texts.add(norm_key(shown(j)))
            if len(distractors) < n_options - 1:
                continue
            options = ctx.shuffled(answer, distractors)
            yield ctx.instruction(
                rs[anchor],
                instruction="A shopper is comparing listings on an Indonesian marketplace. Which of the "
                "listings sells the same product as the given listing?",
                input=f"Listing: {shown(anchor)}",
                options=[shown(i) for i in options],
                output=shown(answer),
                groups=[index.bucket[group], f"g:{group}", *(f"g:{rs[j]['label_group']}" for j in distractors)],
                posting_id=rs[anchor]["posting_id"],
            )


def _random_other(index: _Index, group: str, ctx: ViewContext) -> int | None:
    """A posting of another group in the same bucket and another component (so not a look-alike)."""
    others = [g for g in index.bucket_groups[index.bucket[group]] if index.component[g] != index.component[group]]
    if not others:
        return None
    return ctx.rng.choice(index.members[ctx.rng.choice(others)])
