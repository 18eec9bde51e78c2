"""Postings, document sets and field lengths as arrays, cached per *segment* and shared by every
index generation that still contains the segment.

Whoosh walks posting lists one document at a time in Python. Here a term's postings are decoded
once per segment into numpy arrays (document numbers and term frequencies); a document set is a
Python integer (one bit per document), so unions, intersections and counts for totals, facets,
the reader's ACL and the "enough of the words" candidate set run in C in microseconds. Scoring
(kb.index.ranker) reads the frequencies and the field lengths as arrays.

A commit adds a small segment and marks deletions, but leaves the other segments' postings as they
were: caching per segment means the first search after a publish decodes only the new segment's
postings instead of rebuilding every cache (PERF-NOTES: ~1.7 s at 100k before). ``warm`` builds a
new generation's live set, lengths and facet sets right after a commit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import numpy as np
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length

# Per generation, by size: two generations are kept (a slow thread may still read the older),
# and at 100k articles a document set is 12.5 kB and a common word's postings a megabyte, so
# counts (3,000 sets, 200 postings) once grew a serving process past 550 MB.
TERM_CACHE_BYTES = 12 * 2**20  # document sets per generation
POSTINGS_CACHE_BYTES = 16 * 2**20  # live postings per generation (views of the segments' if whole)
SEGMENT_CACHE_BYTES = 64 * 2**20  # decoded postings kept across generations
K1 = 1.2
B = 0.75

_BYTE_LENGTHS = np.array([byte_to_length(i) for i in range(256)], dtype=np.float32)
_EMPTY_IDS = np.zeros(0, dtype=np.int32)
_EMPTY_TF = np.zeros(0, dtype=np.float32)


# ---- per-segment caches (survive new generations) -------------------------------------------


class _SegmentCache:
    """Decoded postings and field lengths of segments, least recently used out, by size."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._items: OrderedDict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._lengths: dict[tuple[str, str], np.ndarray] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray] | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, ...], value: tuple[np.ndarray, np.ndarray]) -> None:
        size = value[0].nbytes + value[1].nbytes + 200
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self.used += size
            while self.used > self.budget and len(self._items) > 1:
                _k, (ids, tf) = self._items.popitem(last=False)
                self.used -= ids.nbytes + tf.nbytes + 200

    def lengths(self, key: tuple[str, str]) -> np.ndarray | None:
        with self._lock:
            return self._lengths.get(key)

    def put_lengths(self, key: tuple[str, str], value: np.ndarray, live: set[str]) -> None:
        with self._lock:
            self._lengths[key] = value
            for old in [k for k in self._lengths if k[0] not in live]:
                del self._lengths[old]  # segments merged away


_segments = _SegmentCache(SEGMENT_CACHE_BYTES)


def _segment_postings(seg: Any, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
    """(local document numbers, term frequencies) of one segment, deletions included."""
    try:
        tbytes = seg._text_to_bytes(field, text)
        matcher = seg._terms.matcher(field, tbytes, seg.schema[field].format)
    except (TermNotFound, KeyError):
        return _EMPTY_IDS, _EMPTY_TF
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    if hasattr(matcher, "_read_ids") and hasattr(matcher, "_goto"):
        # Whoosh 3 codec: read block by block (one zlib + unpickle each), no per-posting Python
        while True:
            block_ids, block_weights = _read_block(matcher)
            ids.append(block_ids)
            weights.append(block_weights)
            if matcher._lastblock:
                break
            matcher._goto(matcher._nextoffset)
    else:  # another codec: the generic, slower way
        items = list(matcher.all_items())
        ids.append(np.fromiter((i for i, _w in items), dtype=np.int32, count=len(items)))
        weights.append(np.fromiter((w for _i, w in items), dtype=np.float32, count=len(items)))
    return np.concatenate(ids), np.concatenate(weights)


def _read_block(matcher: Any) -> tuple[np.ndarray, np.ndarray]:
    """One block's (document numbers, term frequencies): the block's unpickled tuple turned into
    arrays directly (numpy's cumsum for the delta-coded ids), not one Python step a posting."""
    matcher._read_data()
    deltas, weights = matcher._data[0], matcher._data[1]
    if matcher._byteids:  # not what kb's schema writes; Whoosh's own decoding then
        matcher._read_ids()
        matcher._read_weights()
        return (
            np.asarray(matcher._ids, dtype=np.int32),
            np.asarray(matcher._weights, dtype=np.float32),
        )
    block_ids = np.cumsum(np.asarray(deltas, dtype=np.int64)).astype(np.int32)
    if weights is None:
        tf = np.ones(len(block_ids), dtype=np.float32)
    elif isinstance(weights, float):
        tf = np.full(len(block_ids), weights, dtype=np.float32)
    else:
        tf = np.asarray(weights, dtype=np.float32)
    return block_ids, tf


def _segment_lengths(seg: Any, field: str) -> np.ndarray:
    """Every document's length in ``field`` in one segment, read as one byte string."""
    count = seg.doc_count_all()
    try:
        from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

        column = seg._perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN)
        if column is None:
            return np.zeros(count, dtype=np.float32)
        raw = column._dbfile.get(column._basepos, column._count)
        codes = np.frombuffer(bytes(raw), dtype=np.uint8)
    except (AttributeError, ImportError):
        codes = np.fromiter(
            (seg.doc_field_length(d, field, 0) for d in range(count)), dtype=np.float32
        )
        return codes
    out = np.zeros(count, dtype=np.float32)
    out[: len(codes)] = _BYTE_LENGTHS[codes[:count]]
    return out


# ---- one generation -------------------------------------------------------------------------


class DocSets:
    """Sets, postings and lengths of one index generation, shared by every thread's searcher."""

    def __init__(self, searcher: Any, key: str = "") -> None:
        self.reader = searcher.reader()
        self.size = searcher.doc_count_all()
        self._nbytes = (self.size + 7) // 8
        self._key = key
        leaves = (
            self.reader.leaf_readers()
            if hasattr(self.reader, "leaf_readers")
            else [(self.reader, 0)]
        )
        self._segs = [
            (seg, offset, key + "/" + seg.segment().segment_id())
            for seg, offset in leaves
            if seg.segment() is not None  # an empty index's reader has no segment
        ]
        self._terms: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._terms_bytes = 0
        self._postings: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._postings_bytes = 0
        self._lock = threading.Lock()
        alive = np.ones(self.size, dtype=bool)
        for seg, offset, _sid in self._segs:
            if seg.has_deletions():
                dead = np.fromiter(seg.segment().deleted_docs(), dtype=np.int64)
                alive[dead + offset] = False
        self.alive = alive
        self.live_count = int(alive.sum())
        self.live = self._pack(alive)
        self._read = threading.RLock()  # held while reading through the shared reader
        self._facets: dict[str, dict[str, int]] = {}
        self._norms: dict[str, np.ndarray] = {}

    # conversions between sets (ints), masks and id arrays
    def _pack(self, mask: np.ndarray) -> int:
        return int.from_bytes(np.packbits(mask, bitorder="little").tobytes(), "little")

    def mask(self, bits: int) -> np.ndarray:
        """The set as a boolean array indexed by document number."""
        raw = np.frombuffer(bits.to_bytes(self._nbytes, "little"), dtype=np.uint8)
        return np.unpackbits(raw, bitorder="little", count=self.size).astype(bool)

    def ids(self, bits: int) -> np.ndarray:
        """Document numbers of a set, ascending (one numpy pass)."""
        return np.flatnonzero(self.mask(bits))

    def from_ids(self, ids: Iterable[int]) -> int:
        mask = np.zeros(self.size, dtype=bool)
        arr = np.fromiter(ids, dtype=np.int64)
        if len(arr):
            mask[arr] = True
        return self._pack(mask)

    # postings
    def postings(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(document numbers, term frequencies) of live documents containing ``text``."""
        key = (field, text)
        with self._lock:
            found = self._postings.get(key)
            if found is not None:
                self._postings.move_to_end(key)
                return found
        found = self._live_postings(field, text)
        with self._lock:
            if key not in self._postings:
                self._postings[key] = found
                self._postings_bytes += found[0].nbytes + found[1].nbytes
            while self._postings_bytes > POSTINGS_CACHE_BYTES and len(self._postings) > 1:
                _k, (ids, tf) = self._postings.popitem(last=False)
                self._postings_bytes -= ids.nbytes + tf.nbytes
        return found

    def _live_postings(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        ids_parts, tf_parts = [], []
        for seg, offset, sid in self._segs:
            key = (sid, field, text)
            found = _segments.get(key)
            if found is None:
                with self._read:  # one reader, many threads: its files are not thread-safe
                    found = _segment_postings(seg, field, text)
                _segments.put(key, found)
            if len(found[0]):
                ids_parts.append(found[0] + offset if offset else found[0])
                tf_parts.append(found[1])
        if not ids_parts:
            return _EMPTY_IDS, _EMPTY_TF
        ids = np.concatenate(ids_parts) if len(ids_parts) > 1 else ids_parts[0]
        tf = np.concatenate(tf_parts) if len(tf_parts) > 1 else tf_parts[0]
        keep = self.alive[ids]
        if not keep.all():
            ids, tf = ids[keep], tf[keep]
        return ids, tf

    def term(self, field: str, text: str) -> int:
        """Documents containing ``text`` in ``field`` (0 when the term is unknown)."""
        key = (field, text)
        with self._lock:
            found = self._terms.get(key)
            if found is not None:
                self._terms.move_to_end(key)
                return found
        ids, _tf = self.postings(field, text)
        if len(ids):
            mask = np.zeros(self.size, dtype=bool)
            mask[ids] = True
            bits = self._pack(mask)
        else:
            bits = 0
        with self._lock:
            if key not in self._terms:
                self._terms[key] = bits
                self._terms_bytes += self._nbytes
            while self._terms_bytes > TERM_CACHE_BYTES and len(self._terms) > 1:
                self._terms.popitem(last=False)
                self._terms_bytes -= self._nbytes
        return bits

    def doc_frequency(self, field: str, text: str) -> int:
        """How many documents (deleted ones included) hold ``text`` in ``field``, from the term
        dictionary alone: nothing is decoded, so it is cheap for any word, however common."""
        with self._read:
            try:
                return int(self.reader.doc_frequency(field, text))
            except KeyError:
                return 0

    def any_of(self, terms: Iterable[tuple[str, str]]) -> int:
        bits = 0
        for field, text in terms:
            bits |= self.term(field, text)
        return bits

    def from_query(self, query: Any, searcher: Any) -> int:
        """Documents matching a Whoosh query (for phrases: exact, and selective enough)."""
        return self.from_ids(query.docs(searcher)) & self.live

    # facets
    def facet_values(self, field: str) -> dict[str, int]:
        """Every value of a facet field with its document set."""
        with self._lock:
            cached = self._facets.get(field)
        if cached is None:
            cached = {}
            with self._read:
                values = list(self.reader.lexicon(field))
            for raw in values:
                value = raw.decode("utf-8")
                bits = self.term(field, value)
                if bits:
                    cached[value] = bits
            with self._lock:
                self._facets[field] = cached
        return cached

    def counts(self, field: str, within: int) -> dict[str, int]:
        out = {}
        for value, bits in self.facet_values(field).items():
            n = (bits & within).bit_count()
            if n:
                out[value] = n
        return out

    # statistics for BM25F
    def idf(self, df: int) -> float:
        """BM25's idf of a word found in ``df`` live documents (never negative)."""
        n = max(1, self.live_count)
        return float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))

    def norm(self, field: str) -> np.ndarray:
        """BM25's length normalisation ``1 - b + b·len/avg`` of every document in ``field``."""
        with self._lock:
            found = self._norms.get(field)
        if found is None:
            lengths = self.lengths(field)
            live_lengths = lengths[self.alive]
            average = float(live_lengths.mean()) if len(live_lengths) else 1.0
            found = (1 - B + B * lengths / max(average, 1.0)).astype(np.float32)
            with self._lock:
                self._norms[field] = found
        return found

    def lengths(self, field: str) -> np.ndarray:
        """Every document's length in ``field`` (terms, Whoosh's one-byte approximation)."""
        parts = []
        live_ids = {sid for _s, _o, sid in self._segs}
        for seg, _offset, sid in self._segs:
            found = _segments.lengths((sid, field))
            if found is None:
                with self._read:  # one reader, many threads: its files are not thread-safe
                    found = _segment_lengths(seg, field)
                _segments.put_lengths((sid, field), found, live_ids | _other_live_segments())
            parts.append(found)
        if not parts:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def warm(self, fields: Iterable[str], facets: Iterable[str]) -> None:
        """Build what every search needs (lengths, facet sets) before the first search does."""
        for f in fields:
            self.norm(f)
        for f in facets:
            self.facet_values(f)


def at_least(sets: list[int], m: int) -> int:
    """Documents in at least ``m`` of ``sets`` (a running tally: level k = "in k sets so far")."""
    if m <= 0:
        raise ValueError("m must be positive")
    levels = [0] * (m + 1)  # levels[k]: documents seen in at least k of the sets so far
    for bits in sets:
        for k in range(m, 0, -1):
            levels[k] |= (levels[k - 1] & bits) if k > 1 else bits
    return levels[m]


_shared: dict[tuple[str, int], DocSets] = {}
_shared_lock = threading.Lock()
_build_lock = threading.Lock()


def _other_live_segments() -> set[str]:
    with _shared_lock:
        return {sid for sets in _shared.values() for _s, _o, sid in sets._segs}


def for_searcher(searcher: Any, key: str) -> DocSets:
    """The sets of this index folder and generation, built on first use."""
    generation = searcher.reader().generation()
    ident = (key, generation if generation is not None else -1)
    with _shared_lock:
        found = _shared.get(ident)
    if found is not None and found.size == searcher.doc_count_all():
        return found
    with _build_lock:  # one thread builds a new generation's sets; the others wait for them
        with _shared_lock:
            found = _shared.get(ident)
        if found is not None and found.size == searcher.doc_count_all():
            return found
        built = DocSets(searcher, key)
        with _shared_lock:
            _shared[ident] = built
            while len(_shared) > 2:  # the live generation, and one a slow thread still reads
                _shared.pop(next(iter(_shared)))
    return built
