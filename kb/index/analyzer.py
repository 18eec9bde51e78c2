"""Chinese analysis for the index and for queries: NFKC folding, jieba with the domain dictionary,
dictionary sub-words, model numbers kept whole, lowercase after segmentation.

Positions are token positions (one per precise word; sub-words share their word's position),
not character offsets, so phrase queries work; character offsets are kept for highlighting.
jieba is loaded once per process, on first use, with its cache file in a known place.
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
import unicodedata
from collections.abc import Iterator
from importlib import resources
from typing import Any

import jieba
from whoosh.analysis import Token, Tokenizer

# question words and particles: colloquial questions are full of them, articles are not
STOP_WORDS = frozenset(
    """的 了 吗 呢 吧 啊 呀 么 嘛 和 与 及 或 是 在 把 被 就 都 也 还 又 很 请
    我 你 他 她 它 我们 你们 这 那 这个 那个 一个 怎么 怎么办 怎么样
    怎样 如何 为什么 为何 什么 哪些 哪个 哪里 能否 可以 是否
    有没有 一下 下 啥 咋 咋办 时候 出现 遇到 问题 求助 请问 总是 老是 一直 突然
    the a an of to is are how what why""".split()
)
# more words of how people ask, dropped from queries only (the index keeps them): they say
# nothing about which page answers. A query made only of them keeps them.
QUERY_FILLER = frozenset(
    """个 能不能 可不可以 怎么弄 怎么回事 咋样 咋整 该 应该 需要 想 想要 要 弄 搞 一些 为啥
    干嘛 哦 哈 嗯 您好 你好 谢谢 麻烦 帮忙 帮 请教 这样 那样 会 有 没 没有 用 里 中 上 到 给
    让 得 着 过 能 来 去 不了 该怎么 才能 怎么才能 如何才能 办法 方法 步骤 教程 一下子 呢 嘛 please
    can do does i my""".split()
)
_DICT = "userdict.txt"
_HAN = re.compile(r"[\u3400-\u9fff]")
_SPLIT_RUNS = re.compile(r"[\u3400-\u9fff]+|[a-z0-9]+")
# identifiers whose parts jieba would cut apart: CVE-2024-1234, FT-2000/4, pg_dump, UTF-8, 2.7.5
_COMPOUND = re.compile(r"[a-z0-9]+(?:[._\-/+][a-z0-9]+)+")
_ASCII_ALNUM = re.compile(r"[a-z0-9]")
_ASCII_RUN = re.compile(r"[a-z0-9]+")
_WORDLIKE = re.compile(r"[\w\u3400-\u9fff]", re.UNICODE)

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None


def segmenter() -> jieba.Tokenizer:
    """The process-wide jieba tokenizer with the domain dictionary (loaded once)."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                jieba.setLogLevel(logging.WARNING)
                tok = jieba.Tokenizer()
                tok.tmp_dir = tempfile.gettempdir()
                tok.cache_file = "kb-jieba.cache"
                # jieba leaves a file it opened itself unclosed; hand it one we close
                with (resources.files("kb.index") / "data" / _DICT).open("rb") as handle:
                    tok.load_userdict(handle)
                _tokenizer = tok
    return _tokenizer


class _FoldTable(dict):
    """str.translate table built lazily: NFKC and lowercase, one character for one character."""

    def __missing__(self, char_code: int) -> str:
        char = chr(char_code)
        folded = unicodedata.normalize("NFKC", char)
        if len(folded) != 1:
            folded = char
        lowered = folded.lower()
        self[char_code] = lowered if len(lowered) == 1 else folded
        return self[char_code]


_FOLD = _FoldTable()


def normalise(text: str) -> str:
    """Full-width letters and digits to half-width, compatibility forms unified, lowercase —
    without changing the length, so character offsets still point into the original text."""
    return text.lower() if text.isascii() else text.translate(_FOLD)


# letters and digits that fold to ASCII: full-width forms, Roman numerals, circled numbers
_WIDE_ALNUM = re.compile(r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u2160-\u217f\u2460-\u24ff]")


def fold_for_lookup(text: str) -> str:
    """``normalise`` for finding query words in stored text (highlights, phrase boost): the
    same result wherever a query word can match, but C speed for ordinary Chinese text —
    ``translate`` costs ~60 ns a character, 1.8 s in 240 searches at 10k. Punctuation is not
    folded (query words hold none but ``-._/+``, which half-width text already has)."""
    if not _WIDE_ALNUM.search(text):
        lowered = text.lower()
        if len(lowered) == len(text):
            return lowered
    return normalise(text)


def _subwords(word: str, freq: dict[str, int]) -> Iterator[str]:
    """Dictionary words inside a longer word: 打印机 also yields 打印, 龙芯3A5000 yields 3a5000."""
    runs = _SPLIT_RUNS.findall(word)
    if len(runs) > 1:
        yield from runs
    if _HAN.search(word) and len(word) > 2:
        n = len(word)
        for size in range(2, min(n, 6)):
            for i in range(n - size + 1):
                gram = word[i : i + size]
                if freq.get(gram):
                    yield gram
    if "-" in word:
        yield word.replace("-", "")


def tokens(text: str, *, subwords: bool = True) -> Iterator[tuple[str, int, int, int]]:
    """(term, position, start char, end char) for every indexable token of ``text``.

    Offsets point into ``text`` itself: normalisation here never changes its length.
    """
    tok = segmenter()
    freq = tok.FREQ
    lowered = normalise(text)
    pos = -1
    # English words, commands and identifiers stay whole: jieba cuts "debian" at a dictionary
    # word (deb + ian) and "dh_install" at the underscore. Queries get the whole word only,
    # the index the whole word plus the pieces (as sub-words of the same position).
    wholes: dict[int, int] = {}
    if _ASCII_ALNUM.search(lowered):
        if not subwords:
            wholes = {m.start(): m.end() for m in _COMPOUND.finditer(lowered)}
        for m in _ASCII_RUN.finditer(lowered):
            if not any(s <= m.start() < e for s, e in wholes.items()):
                wholes[m.start()] = m.end()
    inside = -1  # end of the whole word whose pieces are being passed over
    # HMM off: guessing unknown words costs ~15% of indexing; the domain dictionary and
    # dictionary sub-words already cover the vocabulary that matters, on both sides alike
    for word, start, end in tok.tokenize(lowered, mode="default", HMM=False):
        if start < inside:
            if subwords and _WORDLIKE.search(word) and word not in STOP_WORDS:
                yield word, pos, start, end
            continue
        whole_end = wholes.get(start, end)
        if whole_end > end:  # jieba cut a whole word: keep it whole
            inside = whole_end
            pos += 1
            yield lowered[start:whole_end], pos, start, whole_end
            if subwords and word not in STOP_WORDS:
                yield word, pos, start, end
            continue
        if not _WORDLIKE.search(word):
            continue
        pos += 1
        if word in STOP_WORDS:
            continue
        yield word, pos, start, end
        if subwords:
            for sub in dict.fromkeys(_subwords(word, freq)):
                if sub != word and sub not in STOP_WORDS:
                    yield sub, pos, start, end
    if subwords:
        for match in _COMPOUND.finditer(lowered):
            whole = match.group()
            head = whole.split("/", 1)[0]  # FT-2000/4 is also searched as FT-2000 and FT2000
            variants = {whole, head, re.sub(r"[-_]", "", whole), re.sub(r"[-_]", "", head)}
            for variant in variants:
                yield variant, max(pos, 0), match.start(), match.end()


def precise_words(text: str) -> list[str]:
    """The query's words in order, without sub-words or stop words (for phrase matching)."""
    return [w for w, _p, _s, _e in tokens(text, subwords=False)]


class ChineseTokenizer(Tokenizer):
    """Whoosh tokenizer over :func:`tokens`. Module-level class, so it pickles for procs>1."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChineseTokenizer)

    def __hash__(self) -> int:
        return hash(type(self))

    def __call__(  # type: ignore[override]
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            token.original = token.text = normalise(value)
            token.boost = 1.0
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar, token.endchar = start_char, start_char + len(value)
            yield token
            return
        for term, pos, start, end in tokens(value):
            token.text = term
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = term
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token


def ChineseAnalyzer() -> ChineseTokenizer:
    return ChineseTokenizer()
