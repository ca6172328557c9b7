"""Fast text features shared by the spam and sentiment models.

Why not ``HashingVectorizer(analyzer="char_wb")``? Its analysers are Python loops over every
message; on two cores that caps both models together near 10,000 short messages a second.
Here a whole batch is normalised with a few regular expressions run once over the joined
batch, turned into one array of code points, and every feature -- word 1..3-grams,
negation-scoped words, character n-grams, lexicon scores -- is computed with vectorised
numpy over that array:

- character n-grams (n <= 5) are packed exactly into 64-bit keys (12 bits a character) and
  bucketed by multiplicative hashing; words are hashed with a polynomial rolling hash over
  prefix sums (uint64 arithmetic wraps modulo 2**64), finished with MurmurHash3's mixer;
- the negation scope of a word (after "not", "no", "never", "n't", ... up to the next
  clause punctuation) comes from running maxima over token positions;
- lexicon valences are looked up by hash with ``searchsorted``.

A batch becomes a :class:`HashedBatch`: one (message, column) pair per n-gram occurrence
plus a few dense lexicon columns. Occurrences are not summed into a sorted sparse matrix
(that sort would cost more than everything else); the weighting in :class:`TfidfBlock` is
chosen so that it can be applied to unsummed occurrences, and :mod:`.linear` scores them
with ``bincount``. The features of a message do not depend on its batch, so they are
computed once and used by both models.

Normalisation (every kind of message alike, so that no corpus is recognisable by its
style): HTML entities decoded, typographic quotes straightened, lower-cased, URLs, e-mail
addresses and @users replaced by placeholder words, emoticons by ``_emopos_`` /
``_emoneg_``, "n't" spelled " not", a letter repeated three times or more cut to two (and
the message gets an ``_elong_`` feature), digits mapped to ``0``, and a space put around
every punctuation mark: the Enron corpus comes lower-cased and pre-tokenised that way, and
doing the same to everything else makes the two look alike.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

SEP = "\x00"

# --------------------------------------------------------------------- normalisation

_TYPOGRAPHY = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2033": '"',
    "\u2026": "...",
    "\u2013": "-",
    "\u2014": "-",
    "\u200b": "",
    "\ufeff": "",
}
_TYPOGRAPHY_RE = re.compile("[" + "".join(_TYPOGRAPHY) + "]")
# Every pattern starts with a literal or a small character set, so that the regex engine
# skips ahead instead of trying a match at each position (that alone was 3x slower).
_URL_RE = re.compile(r"(?:https?\s?:\s?/\s?/|ftp\s?:\s?/\s?/|www\s?\.\s?)[^\s\x00]*")
_EMAIL_RE = re.compile(r"@[\w\-]+(?:\.[\w\-]+)+")
_USER_RE = re.compile(r"@\w+")
_HEART_RE = re.compile(r"<3+")
# Emoticons, eyes first (":-)", ";(") and eyes last ("(:", ")="); a group or the first
# character says which kind. Each pattern starts with a small character set (see above).
_EMOTICON_RE = re.compile(r"[:=;][\-o^']?(?:(?P<pos>[)\]}>dpb*3]+)|[(\[{|/\\]+)(?![\w:])")
_EMOTICON_REV_RE = re.compile(r"[(\[{)\]}]+[\-o^']?[:=](?![\w:])")
_KAWAII_RE = re.compile(r"\^_*\^")


def _emoticon(match: re.Match[str]) -> str:
    return " _emopos_ " if match.group("pos") else " _emoneg_ "


def _emoticon_rev(match: re.Match[str]) -> str:
    return " _emopos_ " if match.group()[0] in "([{" else " _emoneg_ "


_table_cache: dict[str, np.ndarray] = {}


def _char_tables() -> tuple[np.ndarray, np.ndarray]:
    """(is word character, is letter) for every code point of the BMP."""
    if "word" not in _table_cache:
        chars = [chr(i) for i in range(65536)]
        alpha = np.fromiter((c.isalpha() for c in chars), dtype=bool, count=65536)
        word = np.fromiter((c.isalnum() for c in chars), dtype=bool, count=65536)
        word[ord("_")] = True
        _table_cache["word"], _table_cache["alpha"] = word, alpha
    return _table_cache["word"], _table_cache["alpha"]


_SPACE = 32
_ZERO = ord("0")


def normalize_batch(texts: Sequence[str], max_chars: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalise a batch (see module docstring).

    Returns the code points of the normalised batch, messages separated by 0, and for each
    run of a repeated letter that was cut, the index of its message.
    """
    big = SEP.join(t[:max_chars].replace(SEP, " ") for t in texts)
    if "&" in big:
        big = html.unescape(big)
    big = _TYPOGRAPHY_RE.sub(lambda m: _TYPOGRAPHY[m.group()], big)
    big = big.lower()
    big = big.replace("n't", " not").replace("n ' t", " not")
    if "/" in big or "www" in big:
        big = _URL_RE.sub(" _url_ ", big)
    if "@" in big:
        big = _EMAIL_RE.sub(" _email_ ", big)
        big = _USER_RE.sub(" _user_ ", big)
    big = _HEART_RE.sub(" _heart_ ", big)
    big = _EMOTICON_RE.sub(_emoticon, big)
    big = _EMOTICON_REV_RE.sub(_emoticon_rev, big)
    if "^" in big:
        big = _KAWAII_RE.sub(" _emopos_ ", big)
    cps = np.frombuffer(big.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).copy()
    word_table, alpha_table = _char_tables()
    bmp = cps < 65536
    low = np.where(bmp, cps, 0)
    # Space: every control character but the separator, and the Unicode spaces.
    space = ((cps <= 32) & (cps != 0)) | (cps == 0xA0) | (cps == 0x3000) | (cps == 0x85)
    space |= (cps >= 0x2000) & (cps <= 0x200A)
    cps[space] = _SPACE
    digit = (cps > _ZERO) & (cps <= _ZERO + 9)
    cps[digit] = _ZERO
    # Letters repeated three times or more: keep two ("sooooo" -> "soo").
    alpha = alpha_table[low] & bmp
    elong = np.zeros(len(cps), dtype=bool)
    if len(cps) > 2:
        elong[2:] = alpha[2:] & (cps[2:] == cps[1:-1]) & (cps[2:] == cps[:-2])
    # A space around every punctuation mark (anything not a word character, space or
    # separator; characters beyond the BMP -- emoji -- count as punctuation).
    word = word_table[low] & bmp
    punct = ~(word | (cps == _SPACE) | (cps == 0))
    counts = np.where(elong, 0, np.where(punct, 3, 1))
    ends = np.cumsum(counts)
    out = np.full(int(ends[-1]) if len(ends) else 0, _SPACE, dtype=np.uint32)
    keep = counts > 0
    place = ends - counts + np.where(punct, 1, 0)
    out[place[keep]] = cps[keep]
    # Runs of spaces -> one space.
    if len(out):
        dup = np.zeros(len(out), dtype=bool)
        dup[1:] = (out[1:] == _SPACE) & (out[:-1] == _SPACE)
        out = out[~dup]
    run_start = elong & ~np.concatenate(([False], elong[:-1]))
    elong_docs = np.cumsum(cps == 0, dtype=np.int32)[run_start]
    return out, elong_docs


def normalize(text: str, max_chars: int = 4000) -> str:
    """The normalised form of one text, as the models read it (for display and tests)."""
    cps, _ = normalize_batch([text], max_chars)
    return cps.tobytes().decode("utf-32-le", "surrogatepass").strip()


# ------------------------------------------------------------------------- hashing

_B = np.uint64(0x100000001B3)  # odd, so the prefix hash is well mixed modulo 2**64
_B_INV = np.uint64(pow(int(_B), -1, 1 << 64))
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_S33 = np.uint64(33)
_S12 = np.uint64(12)

SALT_WORD = np.uint64(0xD6E8FEB86659FD93)
SALT_NEG = np.uint64(0xA0761D6478BD642F)
SALT_BIGRAM = np.uint64(0xE7037ED1A0B428DB)
SALT_TRIGRAM = np.uint64(0x8EBC6AF09C88C6E3)
SALT_CHAR = (
    np.uint64(0),
    np.uint64(0x1D8E4E27C47D124F),
    np.uint64(0x589965CC75374CC3),
    np.uint64(0x1D8E4E27C47D124F ^ 0x589965CC75374CC3),
    np.uint64(0x2D358DCCAA6C78A5),
    np.uint64(0x5BD1E9955BD1E995),
)

_pow_cache: dict[str, np.ndarray] = {}


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    have = _pow_cache.get("pw")
    if have is None or len(have) < n + 1:
        size = max(n + 1, 1 << 20, 0 if have is None else 2 * len(have))
        with np.errstate(over="ignore"):
            pw = np.full(size, _B, dtype=np.uint64)
            pw[0] = 1
            np.multiply.accumulate(pw, out=pw)
            ipw = np.full(size, _B_INV, dtype=np.uint64)
            ipw[0] = 1
            np.multiply.accumulate(ipw, out=ipw)
        _pow_cache["pw"], _pow_cache["ipw"] = pw, ipw
    return _pow_cache["pw"], _pow_cache["ipw"]


def _fmix(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, in place."""
    with np.errstate(over="ignore"):
        h ^= h >> _S33
        h *= _M1
        h ^= h >> _S33
        h *= _M2
        h ^= h >> _S33
    return h


def _token_spans(cps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    is_tok = (cps != _SPACE) & (cps != 0)
    edges = np.diff(np.concatenate(([0], is_tok.view(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _substring_hashes(cps: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    n = len(cps)
    pw, ipw = _powers(n)
    with np.errstate(over="ignore"):
        q = np.empty(n + 1, dtype=np.uint64)
        q[0] = 0
        np.cumsum(cps * pw[:n], out=q[1:])
        return (q[ends] - q[starts]) * ipw[starts]


def hash_words(words: Sequence[str]) -> np.ndarray:
    """The raw token hash of each (already normalised) word, as :class:`TextHasher` has it."""
    cps = np.frombuffer(SEP.join(words).encode("utf-32-le"), dtype=np.uint32)
    bounds = np.flatnonzero(cps == 0)
    starts = np.concatenate(([0], bounds + 1))
    ends = np.concatenate((bounds, [len(cps)]))
    return _substring_hashes(cps.astype(np.uint64), starts, ends)


# Words that open a negation scope, and tokens that close one.
NEGATION_CUES = (
    "not no never nothing nobody none nowhere neither nor cannot without "
    "dont doesnt didnt isnt wasnt arent werent cant couldnt wouldnt shouldnt wont "
    "havent hasnt hadnt aint mustnt neednt"
).split()
SCOPE_ENDS = (". , : ; ! ? _url_ _user_ _emopos_ _emoneg_ but").split()
_NEG_SCALAR = -0.74  # VADER's damping of a negated word's valence
N_LEXICON_FEATURES = 8
_CUE_HASHES = np.sort(hash_words(NEGATION_CUES))
_END_HASHES = np.sort(hash_words(SCOPE_ENDS))
_EMO_POS_HASH, _EMO_NEG_HASH, _ELONG_HASH = hash_words(["_emopos_", "_emoneg_", "_elong_"])


@dataclass
class HashedBatch:
    """The features of a batch of messages before weighting.

    ``doc[i]`` / ``col[i]``: one hashed n-gram occurrence (unsummed, unsorted);
    ``dense``: ``(n_docs, N_LEXICON_FEATURES)`` lexicon scores, or ``None``.
    """

    n_docs: int
    n_bits: int
    doc: np.ndarray  # int32, ascending
    col: np.ndarray  # int32
    dense: np.ndarray | None

    @property
    def indptr(self) -> np.ndarray:
        """Row pointers of the occurrences (``doc`` is sorted)."""
        cached = self.__dict__.get("_indptr")
        if cached is None:
            cached = np.zeros(self.n_docs + 1, dtype=np.int64)
            np.cumsum(np.bincount(self.doc, minlength=self.n_docs), out=cached[1:])
            self.__dict__["_indptr"] = cached
        return cached

    @property
    def n_features(self) -> int:
        return (1 << self.n_bits) + (0 if self.dense is None else self.dense.shape[1])

    def to_csr(self) -> sp.csr_matrix:
        """Summed counts as a canonical sparse matrix (dense lexicon columns at the end)."""
        # One sort of (message, column) keys; numpy's SIMD sort beats scipy's COO -> CSR
        # conversion with duplicate summing by a factor of three or more.
        bits = self.n_bits
        key = (self.doc.astype(np.int64) << bits) | self.col.astype(np.int64)
        key.sort()
        first = np.ones(len(key), dtype=bool)
        first[1:] = key[1:] != key[:-1]
        starts = np.flatnonzero(first)
        counts = np.diff(np.append(starts, len(key))).astype(np.float64)
        unique = key[starts]
        rows = unique >> bits
        cols = (unique & ((1 << bits) - 1)).astype(np.int32)
        per_row = np.bincount(rows, minlength=self.n_docs)
        if self.dense is not None:
            k = self.dense.shape[1]
            offsets = np.concatenate(([0], np.cumsum(per_row)))
            # Interleave the k dense values after each row's hashed entries.
            total = len(cols) + k * self.n_docs
            new_pos = np.arange(len(cols)) + k * rows
            data = np.empty(total)
            indices = np.empty(total, dtype=np.int32)
            data[new_pos] = counts
            indices[new_pos] = cols
            tail = (offsets[1:] + k * np.arange(1, self.n_docs + 1))[:, None] - k + np.arange(k)
            data[tail.ravel()] = self.dense.ravel()
            indices[tail.ravel()] = np.tile(np.arange(k, dtype=np.int32) + (1 << bits), self.n_docs)
            per_row = per_row + k
            cols, counts = indices, data
        indptr = np.zeros(self.n_docs + 1, dtype=np.int64)
        np.cumsum(per_row, out=indptr[1:])
        return sp.csr_matrix((counts, cols, indptr), shape=(self.n_docs, self.n_features))

    def take(self, rows: np.ndarray) -> HashedBatch:
        """The features of a subset of the messages, renumbered 0..len(rows)-1."""
        rows = np.asarray(rows, dtype=np.int64)
        new = np.full(self.n_docs, -1, dtype=np.int64)
        new[rows] = np.arange(len(rows))
        order = np.argsort(self.doc, kind="stable")
        mapped = new[self.doc[order]]
        keep = mapped >= 0
        return HashedBatch(
            n_docs=len(rows),
            n_bits=self.n_bits,
            doc=mapped[keep].astype(np.int32),
            col=self.col[order][keep],
            dense=None if self.dense is None else self.dense[rows],
        )


class TextHasher(TransformerMixin, BaseEstimator):
    """Messages -> hashed word and character n-gram counts, plus lexicon scores.

    Stateless (``fit`` learns nothing), so every model built on the same parameters can
    share one computation of the features.

    Parameters
    ----------
    n_bits : int
        ``2**n_bits`` hashed columns.
    word_ngrams : (int, int)
        Range of word n-gram lengths (1..3).
    char_ngrams : (int, int)
        Range of character n-gram lengths (1..5), over the normalised text, spaces included.
    max_chars : int
        Only the first ``max_chars`` characters of each message are read (long e-mails).
    char_max_chars : int
        Character n-grams come from the first ``char_max_chars`` normalised characters only:
        they help most on short noisy texts and cost most on long ones.
    negation : bool
        Words in a negation scope become other features ("good" vs "not ... good").
    lexicon : dict[str, float] or None
        Word -> valence (VADER's); adds ``N_LEXICON_FEATURES`` dense columns.
    """

    def __init__(
        self,
        n_bits: int = 20,
        word_ngrams: tuple[int, int] = (1, 3),
        char_ngrams: tuple[int, int] = (2, 5),
        max_chars: int = 3000,
        char_max_chars: int = 1000,
        negation: bool = True,
        lexicon: dict[str, float] | None = None,
    ):
        self.n_bits = n_bits
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.max_chars = max_chars
        self.char_max_chars = char_max_chars
        self.negation = negation
        self.lexicon = lexicon

    def fit(self, X: Sequence[str], y: object = None) -> TextHasher:
        return self

    def transform(self, X: Sequence[str]) -> sp.csr_matrix:
        return self.hash(X).to_csr()

    def _lexicon_table(self) -> tuple[np.ndarray, np.ndarray]:
        cached = self.__dict__.get("_lex_cache")
        if cached is not None and cached[0] is self.lexicon:
            return cached[1], cached[2]
        words = sorted(w for w in (self.lexicon or {}) if re.fullmatch(r"[a-z_']+", w))
        keys = hash_words(words) if words else np.zeros(0, dtype=np.uint64)
        values = np.asarray([self.lexicon[w] for w in words], dtype=np.float64)  # type: ignore[index]
        order = np.argsort(keys)
        self.__dict__["_lex_cache"] = (self.lexicon, keys[order], values[order])
        return keys[order], values[order]

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state.pop("_lex_cache", None)
        return state

    def hash(self, X: Sequence[str]) -> HashedBatch:
        """The :class:`HashedBatch` of a batch of texts."""
        texts = list(X)
        n_docs = len(texts)
        n_bits = self.n_bits
        dense = np.zeros((n_docs, N_LEXICON_FEATURES)) if self.lexicon else None
        if n_docs == 0:
            empty = np.zeros(0, dtype=np.int32)
            return HashedBatch(0, n_bits, empty, empty, dense)
        cps32, elong_docs = normalize_batch(texts, self.max_chars)
        n = len(cps32)
        is_sep = cps32 == 0
        doc_of = np.cumsum(is_sep, dtype=np.int32)  # a separator counts to the next message
        sep_pos = np.flatnonzero(is_sep)
        doc_end = np.concatenate((sep_pos, [n])).astype(np.int64)
        doc_start = np.concatenate(([0], sep_pos + 1)).astype(np.int64)
        shift = np.uint64(64 - n_bits)
        docs: list[np.ndarray] = []
        cols: list[np.ndarray] = []

        # --- character n-grams, packed exactly: 12 bits a character, n <= 5
        lo, hi = self.char_ngrams
        if 1 <= lo <= hi:
            if hi > 5:
                raise ValueError("char n-grams longer than 5 do not fit 64 bits")
            ids = np.where(cps32 < 128, cps32, 128 + cps32 % 3967).astype(np.uint64)
            pos = np.arange(n, dtype=np.int64)
            room = doc_end[doc_of] - pos  # characters left in the message from here
            room[is_sep] = 0
            head = (pos - doc_start[doc_of]) < self.char_max_chars
            not_space = cps32 != _SPACE
            key = ids.copy()
            for size in range(1, hi + 1):
                if size > 1:
                    key = (key[:-1] << _S12) | ids[size - 1 :]
                if size < lo or len(key) == 0:
                    continue
                m = len(key)
                ok = (room[:m] >= size) & head[:m]
                if size <= 2:
                    # " x" and "x " carry nothing the unigram does not; "  " is impossible.
                    ok &= not_space[:m] & not_space[size - 1 : size - 1 + m]
                with np.errstate(over="ignore"):
                    h = (key[ok] ^ SALT_CHAR[size]) * _GOLD
                docs.append(doc_of[:m][ok])
                cols.append((h >> shift).astype(np.int32))

        # --- word tokens: maximal runs of characters that are neither space nor separator
        w_lo, w_hi = self.word_ngrams
        t_start, t_end = _token_spans(cps32)
        if len(t_start):
            t_doc = doc_of[t_start]
            t_hash = _substring_hashes(cps32.astype(np.uint64), t_start, t_end)
            negated = self._negation_scope(t_hash, t_doc) if self.negation else None
            if dense is not None:
                self._lexicon_features(t_hash, t_doc, negated, dense)
            if w_lo <= 1 <= w_hi:
                uni = t_hash ^ SALT_WORD
                if negated is not None:
                    uni[negated] ^= SALT_NEG
                _fmix(uni)
                docs.append(t_doc)
                cols.append((uni >> shift).astype(np.int32))
            if w_hi >= 2:
                base = _fmix(t_hash ^ SALT_WORD)
                for size, salt in ((2, SALT_BIGRAM), (3, SALT_TRIGRAM)):
                    m = len(base) - size + 1
                    if not (w_lo <= size <= w_hi) or m <= 0:
                        continue
                    same = t_doc[size - 1 :] == t_doc[:m]
                    with np.errstate(over="ignore"):
                        h = base[:m] * _M1 + base[1 : 1 + m]
                        if size == 3:
                            h = h * _M1 + base[2 : 2 + m]
                        h = _fmix(h[same] ^ salt)
                    docs.append(t_doc[:m][same])
                    cols.append((h >> shift).astype(np.int32))

        # --- one "_elong_" word per elongated run
        if len(elong_docs) and w_lo <= 1:
            elong_col = _fmix(np.array([_ELONG_HASH ^ SALT_WORD], dtype=np.uint64)) >> shift
            docs.append(elong_docs)
            cols.append(np.full(len(elong_docs), elong_col[0], dtype=np.int32))

        doc = np.concatenate(docs) if docs else np.zeros(0, dtype=np.int32)
        col = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int32)
        # Each feature family is already in message order: a stable sort only merges the
        # runs, and message-ordered occurrences can be scored as a CSR matrix.
        order = np.argsort(doc, kind="stable")
        return HashedBatch(
            n_docs, n_bits, doc[order].astype(np.int32, copy=False), col[order], dense
        )

    @staticmethod
    def _negation_scope(t_hash: np.ndarray, t_doc: np.ndarray) -> np.ndarray:
        cues = _isin_sorted(t_hash, _CUE_HASHES)
        ends = _isin_sorted(t_hash, _END_HASHES)
        idx = np.arange(len(t_hash), dtype=np.int64)
        doc_first = np.ones(len(t_doc), dtype=bool)
        doc_first[1:] = t_doc[1:] != t_doc[:-1]
        last_cue = np.maximum.accumulate(np.where(cues, idx, -1))
        last_end = np.maximum.accumulate(np.where(ends | doc_first, idx, -1))
        return (last_cue > last_end) & ~cues

    def _lexicon_features(
        self,
        t_hash: np.ndarray,
        t_doc: np.ndarray,
        negated: np.ndarray | None,
        out: np.ndarray,
    ) -> None:
        keys, values = self._lexicon_table()
        n_docs = out.shape[0]
        val = np.zeros(len(t_hash))
        if len(keys):
            pos = np.searchsorted(keys, t_hash)
            pos[pos >= len(keys)] = 0
            hit = keys[pos] == t_hash
            val[hit] = values[pos[hit]]
        if negated is not None:
            val[negated] *= _NEG_SCALAR
        val[t_hash == _EMO_POS_HASH] = 2.0
        val[t_hash == _EMO_NEG_HASH] = -2.0
        positive = np.clip(val, 0, None)
        negative = np.clip(-val, 0, None)
        out[:, 0] = np.bincount(t_doc, weights=positive, minlength=n_docs)
        out[:, 1] = np.bincount(t_doc, weights=negative, minlength=n_docs)
        out[:, 2] = np.bincount(t_doc, weights=(val > 0.5), minlength=n_docs)
        out[:, 3] = np.bincount(t_doc, weights=(val < -0.5), minlength=n_docs)
        np.maximum.at(out[:, 4], t_doc, positive)
        np.maximum.at(out[:, 5], t_doc, negative)
        # The valence of the last scored word: tweets tend to end on their verdict.
        scored = np.flatnonzero(val != 0)
        if len(scored):
            last = np.full(n_docs, -1, dtype=np.int64)
            np.maximum.at(last, t_doc[scored], scored)
            has = last >= 0
            out[has, 6] = val[last[has]]
        total = out[:, 0] - out[:, 1]
        out[:, 7] = total / np.sqrt(total * total + 15.0)  # VADER's "compound" squashing


def _isin_sorted(values: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    pos = np.searchsorted(sorted_keys, values)
    pos[pos >= len(sorted_keys)] = 0
    return sorted_keys[pos] == values
