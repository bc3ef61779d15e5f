"""Pure functions: the week's top stories and each one's related coverage."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache


@dataclass(frozen=True)
class Doc:
    """What ranking needs to know of an article."""

    id: int
    title: str
    summary: str
    section: str | None
    tags: tuple[str, ...]
    published_at: datetime
    views: int = 0
    clicks: int = 0
    shares: int = 0
    comments: int = 0
    editor_pick: bool = False


@dataclass(frozen=True)
class RankParams:
    top: int = 5
    max_per_section: int = 2
    related: int = 3
    title_boost: float = 3.0
    tag_weight: float = 0.08
    section_weight: float = 0.04
    decay_days: float = 120.0
    threshold: float = 0.25
    duplicate_similarity: float = 0.8  # TF-IDF cosine at which two pieces are one
    duplicate_title: float = 0.8  # share of title words in common at which two pieces are one


# An editor's pick outweighs any view count a week brings (log1p(100k views) is about 11.5).
EDITOR_PICK_BONUS = 8.0


def engagement_score(doc: Doc, period_end: datetime) -> float:
    """Reader interest, editor judgement and freshness in one number."""
    interest = math.log1p(doc.views + 5 * doc.clicks + 3 * doc.shares + 2 * doc.comments)
    age_days = max((period_end - doc.published_at).total_seconds() / 86400, 0.0)
    freshness = 1.0 / (1.0 + age_days / 7.0)
    return interest + (EDITOR_PICK_BONUS if doc.editor_pick else 0.0) + freshness


def top_stories(
    candidates: Iterable[Doc],
    params: RankParams,
    period_end: datetime,
    exclude_ids: Iterable[int] = (),
    interest: Mapping[int, float] | None = None,
) -> list[tuple[Doc, float]]:
    """The best stories of a period, at most `max_per_section` from any one section.

    `interest` adds a bonus per article id on top of its engagement score (follow_up_interest).
    """
    if params.top <= 0:
        return []
    excluded = set(exclude_ids)
    bonus = interest or {}
    scored = sorted(
        (
            (doc, engagement_score(doc, period_end) + bonus.get(doc.id, 0.0))
            for doc in candidates
            if doc.id not in excluded
        ),
        key=lambda pair: (-pair[1], -pair[0].published_at.timestamp(), pair[0].id),
    )
    chosen: list[tuple[Doc, float]] = []
    per_section: Counter[str] = Counter()
    titles: list[str] = []
    for doc, score in scored:
        section = (doc.section or "").lower()
        if per_section[section] >= params.max_per_section:
            continue
        if normalise_title(doc.title) in titles:
            continue  # the same piece published twice
        chosen.append((doc, score))
        titles.append(normalise_title(doc.title))
        per_section[section] += 1
        if len(chosen) >= params.top:
            break
    return chosen


# --- text -------------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
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


def _ascii_lower(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return text.lower()


def normalise_title(title: str) -> str:
    """A title reduced to its words: two titles equal here are the same piece re-published."""
    return " ".join(_WORD.findall(_ascii_lower(title)))


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
    found = _WORD.findall(_ascii_lower(text.replace("\u2019", "'")))
    return [t for t in map(_term, found) if t]


@dataclass
class RelatedIndex:
    """TF-IDF over an archive, built once per digest: term counts and postings up front,
    weighted vectors only for the documents a query meets (so a query never scans them all)."""

    docs: list[Doc]
    params: RankParams
    counts: list[dict[str, float]] = field(default_factory=list)
    postings: dict[str, list[int]] = field(default_factory=dict)
    idf: dict[str, float] = field(default_factory=dict)
    position: dict[int, int] = field(default_factory=dict)
    _vectors: dict[int, dict[str, float]] = field(default_factory=dict)
    _title_keys: dict[int, str] = field(default_factory=dict)
    _title_terms: dict[int, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, docs: Sequence[Doc], params: RankParams) -> RelatedIndex:
        index = cls(list(docs), params)
        boost = params.title_boost
        postings: dict[str, list[int]] = defaultdict(list)
        counts = index.counts
        for i, doc in enumerate(index.docs):
            tf: dict[str, float] = {}
            for word in tokens(doc.title):
                tf[word] = tf.get(word, 0.0) + boost
            if doc.summary:
                for word in tokens(doc.summary):
                    tf[word] = tf.get(word, 0.0) + 1.0
            counts.append(tf)
            for term in tf:
                postings[term].append(i)
        total = len(index.docs) or 1
        index.idf = {t: math.log((1 + total) / (1 + len(p))) + 1.0 for t, p in postings.items()}
        index.postings = dict(postings)
        index.position = {d.id: i for i, d in enumerate(index.docs)}
        return index

    def vector(self, i: int) -> dict[str, float]:
        """Unit-length TF-IDF weights of document i (sublinear tf), computed on first use."""
        vector = self._vectors.get(i)
        if vector is None:
            idf = self.idf
            weights = {t: (1.0 + math.log(c)) * idf[t] for t, c in self.counts[i].items()}
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

    def similar(self, i: int) -> dict[int, float]:
        """Cosine of document i with every document sharing a term, found through the postings."""
        scores: dict[int, float] = defaultdict(float)
        for term, weight in self.vector(i).items():
            for j in self.postings.get(term, ()):
                if j != i:
                    scores[j] += weight * self.vector(j)[term]
        return scores

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


@dataclass(frozen=True)
class Related:
    doc: Doc
    score: float
    similarity: float


def related_coverage(
    index: RelatedIndex,
    story: Doc,
    k: int,
    exclude_ids: Iterable[int] = (),
    story_position: int | None = None,
) -> list[Related]:
    """Up to k related pieces for a story: similar, recent, not a copy, not already shown."""
    p = index.params
    i = index.position.get(story.id) if story_position is None else story_position
    if i is None or k <= 0:
        return []
    excluded = set(exclude_ids)
    story_tags = set(story.tags)
    ranked: list[tuple[float, float, int]] = []
    for j, similarity in index.similar(i).items():
        doc = index.docs[j]
        if doc.id in excluded or doc.id == story.id:
            continue
        shared = len(story_tags & set(doc.tags))
        same_section = bool(story.section) and doc.section == story.section
        base = similarity + p.tag_weight * min(shared, 3) + p.section_weight * same_section
        days = abs((story.published_at - doc.published_at).total_seconds()) / 86400
        score = base * math.exp(-days / p.decay_days)
        if score >= p.threshold:
            ranked.append((score, similarity, j))
    ranked.sort(key=lambda r: (-r[0], -index.docs[r[2]].published_at.timestamp(), r[2]))
    chosen: list[Related] = []
    chosen_positions: list[int] = []
    for score, similarity, j in ranked:
        if index.is_duplicate(i, j):
            continue  # the story itself, published again
        if any(index.is_duplicate(j, c) for c in chosen_positions):
            continue
        chosen.append(Related(index.docs[j], round(score, 4), round(similarity, 4)))
        chosen_positions.append(j)
        if len(chosen) >= k:
            break
    return chosen


def related(
    story: Doc,
    archive: Sequence[Doc],
    k: int,
    params: RankParams | None = None,
    exclude_ids: Iterable[int] = (),
) -> list[Related]:
    """Related coverage of one story from plain documents (one-off; a digest reuses an index)."""
    docs = list(archive)
    if all(d.id != story.id for d in docs):
        docs.append(story)
    index = RelatedIndex.build(docs, params or RankParams())
    return related_coverage(index, story, k, exclude_ids)


# --- readers' clicks as interest in follow-ups ------------------------------------------------

# A new article that follows up a story readers clicked in recent issues gets at most this much
# on top of its engagement score: the follow-ups of the most clicked story get all of it, the
# others in proportion to their clicks. Small beside an editor's pick (8) or a popular week's
# views (log1p of them, 5 to 11): it breaks near-ties, it never overrules the newsroom.
FOLLOW_UP_BONUS = 1.5
FOLLOW_UPS_PER_STORY = 3


def follow_up_interest(
    candidates: Sequence[Doc], clicked: Sequence[tuple[Doc, int]], params: RankParams
) -> dict[int, float]:
    """A bonus per candidate id for articles related to stories readers clicked (see above)."""
    clicked = [(doc, clicks) for doc, clicks in clicked if clicks > 0]
    if not clicked or not candidates:
        return {}
    most = max(clicks for _doc, clicks in clicked)
    candidate_ids = {d.id for d in candidates}
    docs = list(candidates) + [d for d, _c in clicked if d.id not in candidate_ids]
    index = RelatedIndex.build(docs, params)
    not_new = {d.id for d in docs if d.id not in candidate_ids}
    interest: dict[int, float] = {}
    for story, clicks in clicked:
        bonus = FOLLOW_UP_BONUS * clicks / most
        for rel in related_coverage(index, story, FOLLOW_UPS_PER_STORY, not_new):
            interest[rel.doc.id] = max(interest.get(rel.doc.id, 0.0), round(bonus, 4))
    return interest
