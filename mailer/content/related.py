"""Related coverage: what else in the archive a reader of one story would want, and why.

Each piece is a bag of terms (words with stopwords dropped and plurals folded) and phrases (two
terms side by side). A candidate scores BM25 against the story's terms; a term that is a proper
noun in the archive (capitalised where a sentence does not ask for it: names, places, acronyms)
weighs more, and a shared phrase adds its own weight. The score is divided by the story's score
against itself, so it is a share of the story matched. A candidate is shown when that share clears
a floor, stands out of the story's own background (what its loose matches reach: a story with
many asks more than one with few) and comes near the best candidate; and when it shares two
separate things with the story, not one name or one stock phrase, unless it matches a lot of it.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from mailer.content.ranking import Doc, normalise_title

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_CASED_WORD = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)?|[.!?:;\"\u201c\u201d(),\u2014-]")
_BREAK = frozenset('.!?:;"\u201c\u201d(),\u2014-')
_SENTENCE_END = frozenset('.!?:"\u201c\u201d')
_STOPWORD_TEXT = (
    "a about above after again against all also am an and any are as at be because been "
    "before being below between both but by can could did do does doing down during each few "
    "for from further had has have having he her here hers him his how i if in into is it its "
    "itself just me more most my no nor not now of off on once only or other our ours out "
    "over own same she should so some such than that the their theirs them then there these "
    "they this those through to too under until up very was we were what when where which "
    "while who whom why will with would you your yours says said new after over year years "
    "week day days first last one two three get gets how what us vs via amid "
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# Capitalised, but every piece has one: never a name two pieces share in any telling way.
_CALENDAR_TEXT = (
    "monday tuesday wednesday thursday friday saturday sunday january february march april "
    "june july august september october november december"
)
_CALENDAR = frozenset(_CALENDAR_TEXT.split())


@dataclass(frozen=True)
class RelatedParams:
    """How related coverage is scored and cut; fitted on judged HuffPost stories (README)."""

    title_boost: float = 2.0  # a title word counts as this many summary words
    k1: float = 1.2  # BM25 term-frequency saturation
    b: float = 0.75  # BM25 length normalisation
    name_boost: float = 2.0  # a shared proper noun weighs this many times a common word
    phrase_weight: float = 0.3  # a shared two-word phrase, on top of its two words
    tag_weight: float = 0.05
    section_weight: float = 0.03
    decay_days: float = 180.0
    floor: float = 0.12  # least share of the story a candidate must match
    background: float = 2.5  # ... and this many times the story's background score
    background_rank: int = 40  # the background: the score at this rank among all candidates
    enough: float = 0.25  # a share that is shown whatever the background (a crowded story)
    relative: float = 0.7  # ... and this share of the best candidate's score
    # One shared name or word is a coincidence (a celebrity's other news, "death toll"); a piece
    # must share two separate things with the story, unless it matches this share of it anyway.
    least_shared: int = 2
    alone: float = 0.25
    duplicate_similarity: float = 0.8  # TF-IDF cosine at which two pieces are one
    duplicate_title: float = 0.8  # share of title words in common at which two pieces are one


def _ascii(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return text


_SKIP = ""  # memo value for words that are not terms


@lru_cache(maxsize=200_000)
def _term(word: str) -> str:
    """One word as an index term: stopwords dropped, plurals folded ('libraries' -> 'library')."""
    word = word.split("'")[0]
    if len(word) < 2 or word in STOPWORDS:
        return _SKIP
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Words without stopwords, plurals folded so that 'libraries' meets 'library'."""
    found = _WORD.findall(_ascii(text.replace("\u2019", "'")).lower())
    return [t for t in map(_term, found) if t]


@dataclass(frozen=True)
class _Reading:
    """One text read once: its terms, its phrases, and how each term was written."""

    terms: list[str]
    phrases: list[str]
    capitalised: list[str]  # terms written with a capital where a sentence does not need one
    lowered: list[str]  # terms written in lower case


@lru_cache(maxsize=300_000)
def _piece(piece: str) -> tuple[str, str, bool]:
    """A piece of text once and for all: its term ('' for none), what it is ('end' of a
    sentence, other 'break', 'acronym', 'upper', 'lower', 'other') and whether it counts for
    telling title case."""
    if piece in _BREAK:
        return _SKIP, "end" if piece in _SENTENCE_END else "break", False
    term = _term(piece.lower())
    first = piece[0]
    if not first.isalpha():
        return term, "other", False
    if len(piece) > 1 and piece.isupper():
        shape = "acronym"
    else:
        shape = "upper" if first.isupper() else "lower"
    return term, shape, piece.lower() not in STOPWORDS


def read(text: str) -> _Reading:
    """Terms, phrases (adjacent terms within one clause) and the capitalisation evidence.
    A headline In Title Case says nothing about which words are names, save its acronyms."""
    pieces = [_piece(p) for p in _CASED_WORD.findall(_ascii(text.replace("\u2019", "'")))]
    content = [shape for _, shape, counts in pieces if counts]
    upper = sum(shape != "lower" for shape in content)
    title_case = len(content) >= 3 and upper >= 0.7 * len(content)
    terms: list[str] = []
    phrases: list[str] = []
    capitalised: list[str] = []
    lowered: list[str] = []
    previous = _SKIP
    sentence_start = True
    for term, shape, _ in pieces:
        if shape == "break" or shape == "end":
            previous = _SKIP
            sentence_start = sentence_start or shape == "end"
            continue
        if not term:
            previous = _SKIP  # a stopword breaks a phrase ("bank of america" is two)
            sentence_start = False
            continue
        terms.append(term)
        if previous:
            phrases.append(f"{previous} {term}")
        previous = term
        if shape == "acronym":
            capitalised.append(term)  # in any kind of text
        elif shape != "other" and not title_case and not sentence_start:
            (capitalised if shape == "upper" else lowered).append(term)
        sentence_start = False
    return _Reading(terms, phrases, capitalised, lowered)


def _written(text: str) -> dict[str, str]:
    """Each term of a text as the text wrote it ('Netflix', 'movies'), for showing to editors."""
    forms: dict[str, str] = {}
    for piece in _CASED_WORD.findall(_ascii(text.replace("\u2019", "'"))):
        if piece in _BREAK:
            continue
        term = _term(piece.lower())
        if term and (term not in forms or (forms[term].islower() and not piece.islower())):
            forms[term] = piece.split("'")[0]
    return forms


@dataclass(frozen=True)
class Related:
    """A related piece, its score, and why: the names and terms it shares with the story."""

    doc: Doc
    score: float
    similarity: float
    names: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        """Why it is related, in words an editor checks at a glance."""
        named = f"both name {', '.join(self.names)}" if self.names else ""
        mentioned = f"both mention {', '.join(self.terms)}" if self.terms else ""
        text = "; ".join(p for p in (named, mentioned) if p) or "similar wording"
        return text[0].upper() + text[1:]


@dataclass
class RelatedIndex:
    """BM25 postings over an archive, built once per digest; a query only visits the pieces
    that share a term with it (never the whole archive)."""

    docs: list[Doc]
    params: RelatedParams
    counts: list[dict[str, float]] = field(default_factory=list)
    lengths: list[float] = field(default_factory=list)
    postings: dict[str, list[int]] = field(default_factory=dict)
    idf: dict[str, float] = field(default_factory=dict)
    names: frozenset[str] = frozenset()
    position: dict[int, int] = field(default_factory=dict)
    average_length: float = 1.0
    _vectors: dict[int, dict[str, float]] = field(default_factory=dict)
    _title_keys: dict[int, str] = field(default_factory=dict)
    _title_terms: dict[int, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, docs: Sequence[Doc], params: RelatedParams | None = None) -> RelatedIndex:
        index = cls(list(docs), params or RelatedParams())
        boost = index.params.title_boost
        postings: dict[str, list[int]] = defaultdict(list)
        capitalised: Counter[str] = Counter()
        lowered: Counter[str] = Counter()
        counts, lengths = index.counts, index.lengths
        for i, doc in enumerate(index.docs):
            tf: dict[str, float] = {}
            length = 0.0
            for text, weight in ((doc.title, boost), (doc.summary, 1.0)):
                if not text:
                    continue
                reading = read(text)
                for term in reading.terms:
                    tf[term] = tf.get(term, 0.0) + weight
                for phrase in reading.phrases:
                    tf[phrase] = tf.get(phrase, 0.0) + weight
                length += weight * len(reading.terms)
                capitalised.update(reading.capitalised)
                lowered.update(reading.lowered)
            counts.append(tf)
            lengths.append(length)
            for term in tf:
                postings[term].append(i)
        total = len(index.docs)
        # BM25's idf, kept positive for terms in over half the archive
        index.idf = {
            t: math.log(1.0 + (total - len(p) + 0.5) / (len(p) + 0.5)) for t, p in postings.items()
        }
        index.postings = dict(postings)
        index.names = frozenset(
            t for t, n in capitalised.items() if n >= 3 * lowered.get(t, 0) and t not in _CALENDAR
        )
        index.position = {d.id: i for i, d in enumerate(index.docs)}
        index.average_length = (sum(lengths) / total) if total else 1.0
        return index

    def weight(self, term: str) -> float:
        """What sharing a term is worth: rarity, more for names, phrases on top of their words."""
        p = self.params
        weight = self.idf.get(term, 0.0)
        if " " in term:
            return weight * p.phrase_weight
        return weight * p.name_boost if term in self.names else weight

    def saturation(self, j: int, term: str) -> float:
        """BM25's term frequency part: more mentions help, less and less, less in long pieces."""
        p = self.params
        tf = self.counts[j].get(term, 0.0)
        norm = p.k1 * (1.0 - p.b + p.b * self.lengths[j] / self.average_length)
        return tf * (p.k1 + 1.0) / (tf + norm)

    def scores(self, i: int) -> tuple[dict[int, float], float]:
        """Every piece sharing a term with piece i, scored as a share of i's score with itself."""
        raw: dict[int, float] = defaultdict(float)
        self_score = 0.0
        for term in self.counts[i]:
            weight = self.weight(term)
            self_score += weight * self.saturation(i, term)
            for j in self.postings.get(term, ()):
                if j != i:
                    raw[j] += weight * self.saturation(j, term)
        if self_score <= 0:
            return {}, 0.0
        return {j: s / self_score for j, s in raw.items()}, self_score

    def shared(self, i: int, j: int, most: int = 4) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The names and the other words two pieces share, the weightiest first, as written."""
        common = [t for t in self.counts[i] if t in self.counts[j]]
        common.sort(key=lambda t: (-self.weight(t), t))
        story = self.docs[i]
        written = _written(f"{story.title}. {story.summary}")
        names: list[str] = []
        terms: list[str] = []
        covered: set[str] = set()
        for term in common:
            words = term.split(" ")
            if all(w in covered for w in words):
                continue
            shown = " ".join(written.get(w, w) for w in words)
            if all(w in self.names for w in words):
                names.append(shown)
            else:
                terms.append(shown.lower())
            covered.update(words)
        return tuple(names[:most]), tuple(terms[: max(most - len(names), 1)])

    def things_shared(self, i: int, j: int) -> int:
        """How many separate things two pieces share: words, with the words of a shared phrase
        ('Kanye West', 'death toll') counted once."""
        story, other = self.counts[i], self.counts[j]
        parent = {t: t for t in story if t in other and " " not in t}

        def root(term: str) -> str:
            while parent[term] != term:
                term = parent[term]
            return term

        for term in story:
            if " " in term and term in other:
                first, second = term.split(" ")
                if first in parent and second in parent:
                    parent[root(first)] = root(second)
        return len({root(t) for t in parent})

    def vector(self, i: int) -> dict[str, float]:
        """Unit-length TF-IDF weights of document i's words, for telling copies apart."""
        vector = self._vectors.get(i)
        if vector is None:
            idf = self.idf
            weights = {
                t: (1.0 + math.log(c)) * (idf[t] + 1.0)
                for t, c in self.counts[i].items()
                if " " not in t and c >= 1.0
            }
            norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            vector = {t: w / norm for t, w in weights.items()}
            self._vectors[i] = vector
        return vector

    def title_key(self, i: int) -> str:
        key = self._title_keys.get(i)
        if key is None:
            key = self._title_keys[i] = normalise_title(self.docs[i].title)
        return key

    def cosine(self, a: int, b: int) -> float:
        va, vb = self.vector(a), self.vector(b)
        if len(va) > len(vb):
            va, vb = vb, va
        return sum(w * vb.get(t, 0.0) for t, w in va.items())

    def title_terms(self, i: int) -> frozenset[str]:
        terms = self._title_terms.get(i)
        if terms is None:
            terms = self._title_terms[i] = frozenset(tokens(self.docs[i].title))
        return terms

    def is_duplicate(self, a: int, b: int) -> bool:
        """The same piece re-published: the same title, nearly the same title words
        (a word added or dropped), or nearly the same words overall."""
        if self.title_key(a) == self.title_key(b):
            return True
        ta, tb = self.title_terms(a), self.title_terms(b)
        if ta and tb and len(ta & tb) / len(ta | tb) >= self.params.duplicate_title:
            return True
        return self.cosine(a, b) >= self.params.duplicate_similarity


def ranked_candidates(index: RelatedIndex, i: int) -> tuple[list[tuple[float, float, int]], float]:
    """Every candidate of piece i as (score, similarity, position), best first, and the
    background score the story's loose matches reach."""
    p = index.params
    story = index.docs[i]
    story_tags = set(story.tags)
    similarities, _ = index.scores(i)
    ranked: list[tuple[float, float, int]] = []
    for j, similarity in similarities.items():
        doc = index.docs[j]
        shared_tags = len(story_tags & set(doc.tags)) if story_tags else 0
        same_section = bool(story.section) and doc.section == story.section
        base = similarity + p.tag_weight * min(shared_tags, 3) + p.section_weight * same_section
        days = abs((story.published_at - doc.published_at).total_seconds()) / 86400
        ranked.append((base * math.exp(-days / p.decay_days), similarity, j))
    ranked.sort(key=lambda r: (-r[0], -index.docs[r[2]].published_at.timestamp(), r[2]))
    rank = p.background_rank
    background = ranked[rank - 1][0] if len(ranked) >= rank else 0.0
    return ranked, background


def related_coverage(
    index: RelatedIndex,
    story: Doc,
    k: int,
    exclude_ids: Iterable[int] = (),
    story_position: int | None = None,
    cut: bool = True,
) -> list[Related]:
    """Up to k related pieces for a story: clearly above its background, recent, not a copy,
    not already shown; `cut=False` ranks without the cut (for judging)."""
    i = index.position.get(story.id) if story_position is None else story_position
    if i is None or k <= 0:
        return []
    ranked, background = ranked_candidates(index, i)
    return choose(index, i, ranked, background, k, set(exclude_ids), index.params if cut else None)


def choose(
    index: RelatedIndex,
    i: int,
    ranked: Sequence[tuple[float, float, int]],
    background: float,
    k: int,
    excluded: set[int],
    cut: RelatedParams | None,
) -> list[Related]:
    """The pieces shown from a ranking: each over the bar (the floor, the story's background,
    near the best), no copies of the story or of each other, none already in the issue."""
    bar = max(cut.floor, min(cut.background * background, cut.enough)) if cut else 0.0
    story_id = index.docs[i].id
    best: float | None = None
    chosen: list[Related] = []
    chosen_positions: list[int] = []
    for score, similarity, j in ranked:
        if score < bar:
            break
        if index.is_duplicate(i, j) or any(index.is_duplicate(j, c) for c in chosen_positions):
            continue  # the story itself published again, or a copy of one already chosen
        if best is None and cut:
            best = score
            bar = max(bar, cut.relative * best)
        doc = index.docs[j]
        if doc.id in excluded or doc.id == story_id:
            continue  # already in the issue
        if cut and score < cut.alone and index.things_shared(i, j) < cut.least_shared:
            continue  # one name or one word in common: a coincidence
        names, terms = index.shared(i, j)
        chosen.append(Related(doc, round(score, 4), round(similarity, 4), names, terms))
        chosen_positions.append(j)
        if len(chosen) >= k:
            break
    return chosen


def related(
    story: Doc,
    archive: Sequence[Doc],
    k: int,
    params: RelatedParams | None = None,
    exclude_ids: Iterable[int] = (),
) -> list[Related]:
    """Related coverage of one story from plain documents (one-off; a digest reuses an index)."""
    docs = list(archive)
    if all(d.id != story.id for d in docs):
        docs.append(story)
    index = RelatedIndex.build(docs, params)
    return related_coverage(index, story, k, exclude_ids)


# --- readers' clicks as interest in follow-ups ------------------------------------------------

# A new article that follows up a story readers clicked in recent issues gets at most this much
# on top of its engagement score: the follow-ups of the most clicked story get all of it, the
# others in proportion to their clicks. Small beside an editor's pick (8) or a popular week's
# views (log1p of them, 5 to 11): it breaks near-ties, it never overrules the newsroom.
FOLLOW_UP_BONUS = 1.5
FOLLOW_UPS_PER_STORY = 3


def follow_up_interest(
    candidates: Sequence[Doc], clicked: Sequence[tuple[Doc, int]]
) -> dict[int, float]:
    """A bonus per candidate id for articles related to stories readers clicked (see above)."""
    clicked = [(doc, clicks) for doc, clicks in clicked if clicks > 0]
    if not clicked or not candidates:
        return {}
    most = max(clicks for _doc, clicks in clicked)
    candidate_ids = {d.id for d in candidates}
    docs = list(candidates) + [d for d, _c in clicked if d.id not in candidate_ids]
    index = RelatedIndex.build(docs)
    not_new = {d.id for d in docs if d.id not in candidate_ids}
    interest: dict[int, float] = {}
    for story, clicks in clicked:
        bonus = FOLLOW_UP_BONUS * clicks / most
        for rel in related_coverage(index, story, FOLLOW_UPS_PER_STORY, not_new):
            interest[rel.doc.id] = max(interest.get(rel.doc.id, 0.0), round(bonus, 4))
    return interest
