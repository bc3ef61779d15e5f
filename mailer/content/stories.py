"""Stories: the week's pieces grouped by the event they cover, scored by how much coverage
each drew, so that a digest leads with what the newsroom wrote most about, not the newest."""

from __future__ import annotations

import heapq
import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from mailer.content.ranking import (
    EDITOR_PICK_BONUS,
    Doc,
    RankParams,
    engagement_score,
    freshness,
    normalise_title,
    reader_interest,
    top_stories,
)
from mailer.content.related import STOPWORDS, Related, tokens


@dataclass(frozen=True)
class StoryParams:
    lookback_days: float = 3.0  # the days before the week that tell a story's growth
    join_similarity: float = 0.25  # cosine of a piece with a story's centre to join it
    merge_similarity: float = 0.15  # cosine of two stories' centres to make them one
    title_weight: float = 2.0  # weight of a title word
    summary_weight: float = 0.5  # weight of a summary word (teasers wander more than titles)
    name_weight: float = 1.5  # extra weight of a proper noun and of a proper-noun phrase
    max_stories_per_term: int = 20  # a term in more stories than this finds no candidates
    source_weight: float = 0.5  # per doubling of the distinct sources it came from
    section_weight: float = 0.25  # per doubling of the distinct sections it was filed in
    growth_weight: float = 0.5  # per doubling of the daily rate against the days before
    freshness_weight: float = 0.5  # a tie-breaker: less than one more piece is worth
    sticky_bonus: float = 4.0  # a post the site keeps at the top of its front page
    position_bonus: float = 2.0  # first in its feed: halves with each place down
    sibling_similarity: float = 0.25  # cosine a story's other piece needs to head its box
    copy_similarity: float = 0.8  # cosine at which two pieces are one re-published


STORY_PARAMS = StoryParams()


# --- proper nouns ------------------------------------------------------------------------------

_RAW_WORD = re.compile(r"([\W_]*?)([^\W_](?:[\w'\u2019.&-]*[^\W_])?)")
_SENTENCE_END = frozenset(".!?:;\"'([|-\u2018\u201c\u201d\u2013\u2014")


def _words(text: str) -> list[tuple[str, bool, bool]]:
    """(word, starts a sentence, follows the previous word with only spaces between)."""
    found: list[tuple[str, bool, bool]] = []
    for gap, word in _RAW_WORD.findall(text):
        gap = gap.strip()
        if not found:
            found.append((word, True, False))
            continue
        initial = bool(gap) and gap[-1] in _SENTENCE_END
        found.append((word, initial, not gap))
    return found


def _key(word: str) -> str:
    return word.replace("\u2019", "'").split("'")[0].lower()


def _capitalised(word: str) -> bool:
    return word[0].isupper()


def _acronym(word: str) -> bool:
    return len(word) >= 2 and word.isupper()


def _title_case(words: list[tuple[str, bool, bool]]) -> bool:
    """Headline style ('Iran Deal Falls Apart'): capitals there say nothing of names."""
    long_words = [w for w, _, _ in words if len(w) > 3 and w[0].isalpha()]
    return len(long_words) >= 3 and sum(map(_capitalised, long_words)) >= 0.75 * len(long_words)


Words = list[tuple[str, bool, bool]]


def learn_names(texts: Iterable[Words]) -> frozenset[str]:
    """Words written with a capital inside sentence-case sentences more often than without."""
    upper: Counter[str] = Counter()
    lower: Counter[str] = Counter()
    for words in texts:
        if _title_case(words):
            continue
        for word, initial, _ in words:
            if not word[0].isalpha():
                continue
            if not _capitalised(word):
                lower[_key(word)] += 1
            elif not initial:
                upper[_key(word)] += 1
    return frozenset(w for w, n in upper.items() if n > lower[w] and w not in STOPWORDS)


@lru_cache(maxsize=200_000)
def _word_terms(word: str) -> tuple[str, ...]:
    """A word's index terms, as ranking's tokens() makes them (memoised: words repeat)."""
    return tuple(tokens(word))


def name_runs(words: Words, names: frozenset[str]) -> list[list[str]]:
    """Runs of adjacent proper nouns ('Hassan Rouhani', 'Malaysia Airlines'), as index terms."""
    runs: list[list[str]] = []
    current: list[str] = []
    for word, _initial, joined in words:
        is_name = _capitalised(word) and (_acronym(word) or _key(word) in names)
        terms = _word_terms(word) if is_name else ()
        if terms and (joined or not current):
            current.extend(terms)
            continue
        if current:
            runs.append(current)
        current = list(terms)
    if current:
        runs.append(current)
    return runs


# --- grouping ----------------------------------------------------------------------------------


def _term_counts(
    texts: list[tuple[Words, float]], names: frozenset[str], p: StoryParams
) -> dict[str, float]:
    counts: dict[str, float] = defaultdict(float)
    for words, weight in texts:
        for word, _, _ in words:
            for term in _word_terms(word):
                counts[term] += weight
        for run in name_runs(words, names):
            for term in run:
                counts[term] += p.name_weight * weight
            for first, second in itertools.pairwise(run):
                counts[f"{first} {second}"] += p.name_weight * weight
    return counts


def _vectors(docs: Sequence[Doc], p: StoryParams) -> list[dict[str, float]]:
    """Unit TF-IDF vectors (sublinear tf, smoothed idf) of title, summary and proper nouns."""
    texts = [
        [
            (_words(text), weight)
            for text, weight in ((d.title, p.title_weight), (d.summary, p.summary_weight))
            if text
        ]
        for d in docs
    ]
    names = learn_names(words for parts in texts for words, _ in parts)
    counts = [_term_counts(parts, names, p) for parts in texts]
    df: Counter[str] = Counter(t for c in counts for t in c)
    total = len(docs)
    idf = {t: math.log((1 + total) / (1 + n)) + 1.0 for t, n in df.items()}
    vectors = []
    for c in counts:
        weights = {t: (1.0 + math.log(n)) * idf[t] for t, n in c.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        # a word no other piece has still makes this one less like the rest, so it counts in
        # the length; it is not kept, as it can match nothing
        vectors.append({t: w / norm for t, w in weights.items() if df[t] > 1})
    return vectors


def group(
    docs: Sequence[Doc],
    params: StoryParams = STORY_PARAMS,
    vectors: list[dict[str, float]] | None = None,
) -> list[list[int]]:
    """Positions of docs grouped into stories: gathered piece by piece, then merged."""
    vectors = _vectors(docs, params) if vectors is None else vectors
    groups = _Groups(params.max_stories_per_term)
    order = sorted(range(len(docs)), key=lambda i: (docs[i].published_at, docs[i].id))
    for i in order:
        groups.place(i, vectors[i], params.join_similarity)
    groups.merge(params.merge_similarity)
    return sorted(sorted(m) for m in groups.members.values())


class _Groups:
    """Stories as summed vectors, found through the terms they hold: a term held by too many
    stories tells none apart, so it is never looked up (this keeps the work near linear)."""

    def __init__(self, max_per_term: int) -> None:
        self.max_per_term = max_per_term
        self.members: dict[int, list[int]] = {}
        self.sums: dict[int, dict[str, float]] = {}
        self.lengths: dict[int, float] = {}  # squared length of each sum
        self.holding: dict[str, list[int]] = defaultdict(list)  # term -> stories with it

    def _dots(self, vector: dict[str, float], skip: int = -1) -> dict[int, float]:
        """Dot products of a vector with the stories it shares a telling term with."""
        sums, holding, cap = self.sums, self.holding, self.max_per_term
        dots: dict[int, float] = {}
        for term, weight in vector.items():
            stories = holding.get(term)
            if stories and len(stories) <= cap:
                for g in stories:
                    if g != skip:
                        dots[g] = dots.get(g, 0.0) + weight * sums[g][term]
        return dots

    def _add(self, g: int, vector: dict[str, float]) -> None:
        total = self.sums.setdefault(g, {})
        dot = sum(w * total.get(t, 0.0) for t, w in vector.items())
        # the piece's vector has unit length, words no other piece has included
        self.lengths[g] = self.lengths.get(g, 0.0) + 2 * dot + 1.0
        for term, weight in vector.items():
            if term not in total:
                total[term] = 0.0
                self.holding[term].append(g)
            total[term] += weight

    def place(self, i: int, vector: dict[str, float], threshold: float) -> None:
        """Piece i joins the story whose centre it is closest to (cosine at least the threshold),
        or starts its own."""
        best, best_score = len(self.members), threshold
        for g, dot in sorted(self._dots(vector).items()):
            score = dot / math.sqrt(self.lengths[g])
            if score > best_score:
                best, best_score = g, score
        self.members.setdefault(best, []).append(i)
        self._add(best, vector)

    def merge(self, threshold: float) -> None:
        """Join the two stories whose centres are closest, again and again, while that cosine
        clears the threshold: a story told in several strands becomes one. The last step: the
        term lookup is read before the merging and not kept up to date by it."""
        cross: dict[int, dict[int, float]] = defaultdict(dict)  # dot of two stories' sums
        heap = []
        for g in self.members:
            for h, dot in self._dots(self.sums[g], skip=g).items():
                score = dot / math.sqrt(self.lengths[g] * self.lengths[h])
                if h > g and score >= threshold / 2:  # fainter likeness is taken as none
                    cross[g][h] = cross[h][g] = dot
                    if score >= threshold:
                        heap.append((-score, g, h))
        heapq.heapify(heap)
        while heap:
            negative, a, b = heapq.heappop(heap)
            if a not in self.members or b not in self.members:
                continue  # one side was merged since
            if abs(self._cosine(cross, a, b) + negative) > 1e-9:
                continue  # a stale entry: the pair has changed since
            self.members[a].extend(self.members.pop(b))
            self.lengths[a] += self.lengths.pop(b) + 2 * cross[a].pop(b)
            sum_b = self.sums.pop(b)
            for term, weight in sum_b.items():
                self.sums[a][term] = self.sums[a].get(term, 0.0) + weight
            for c, dot in cross.pop(b).items():
                if c != a:
                    del cross[c][b]
                    cross[a][c] = cross[c][a] = cross[a].get(c, 0.0) + dot
            for c in cross[a]:
                score = self._cosine(cross, a, c)
                if score >= threshold:
                    heapq.heappush(heap, (-score, min(a, c), max(a, c)))

    def _cosine(self, cross: dict[int, dict[int, float]], a: int, b: int) -> float:
        return cross[a][b] / math.sqrt(self.lengths[a] * self.lengths[b])


# --- scoring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Story:
    """One event's coverage: its lead piece, the score it earned, and what earned it."""

    lead: Doc
    score: float
    pieces: tuple[Doc, ...]  # every piece of the story in the window, lookback days included
    this_week: int
    days_before: int
    sources: int
    sections: int


def _centroid_closeness(group: list[int], vectors: list[dict[str, float]]) -> dict[int, float]:
    """How central each piece is to its story: cosine with the story's summed vector."""
    if len(group) == 1:
        return {group[0]: 1.0}
    centroid: dict[str, float] = defaultdict(float)
    for i in group:
        for term, weight in vectors[i].items():
            centroid[term] += weight
    unshared = sum(1.0 - sum(w * w for w in vectors[i].values()) for i in group)
    norm = math.sqrt(sum(w * w for w in centroid.values()) + unshared) or 1.0
    return {i: sum(w * centroid[t] for t, w in vectors[i].items()) / norm for i in group}


class Stories:
    """A window's pieces grouped into stories (built once per digest, then queried)."""

    def __init__(
        self,
        docs: Sequence[Doc],
        week_start: datetime,
        week_end: datetime,
        params: StoryParams = STORY_PARAMS,
    ) -> None:
        self.docs = sorted(docs, key=lambda d: (d.published_at, d.id))
        self.week_start, self.week_end, self.params = week_start, week_end, params
        self.vectors = _vectors(self.docs, params)
        self.groups = group(self.docs, params, self.vectors)
        self.group_of = {
            self.docs[i].id: g for g, members in enumerate(self.groups) for i in members
        }
        self.position = {d.id: i for i, d in enumerate(self.docs)}

    def lead_score(self, doc: Doc, closeness: float) -> float:
        """Which piece speaks for its story: picks, sticky and prominent posts, readers' interest,
        then the one closest to the story's centre, then the newest."""
        p = self.params
        position = p.position_bonus * 0.5**doc.position if doc.position is not None else 0.0
        sticky = p.sticky_bonus if doc.sticky else 0.0
        return engagement_score(doc, self.week_end) + sticky + position + closeness

    def story(self, g: int, unavailable: set[int]) -> Story | None:
        """Group g scored as a story, led by its best piece of the week not yet sent."""
        p = self.params
        members = self.groups[g]
        week = [i for i in members if self.docs[i].published_at >= self.week_start]
        eligible = [i for i in week if self.docs[i].id not in unavailable]
        if not eligible:
            return None
        closeness = _centroid_closeness(members, self.vectors)
        lead = max(
            eligible,
            key=lambda i: (self.lead_score(self.docs[i], closeness[i]), self.docs[i].published_at),
        )
        pieces = [self.docs[i] for i in week]
        days = max((self.week_end - self.week_start) / timedelta(days=1), 1.0)
        before = len(members) - len(week)
        growth = math.log2((1 + len(week) / days) / (1 + before / p.lookback_days))
        sources = len({d.source for d in pieces if d.source is not None})
        sections = len({(d.section or "").lower() for d in pieces})
        interest = sum(reader_interest(d) for d in pieces)
        picked = any(d.editor_pick for d in pieces)
        sticky = any(d.sticky for d in pieces)
        best_position = min((d.position for d in pieces if d.position is not None), default=None)
        newest = max(d.published_at for d in pieces)
        score = (
            math.log2(1 + len(week))
            + p.source_weight * math.log2(max(sources, 1))
            + p.section_weight * math.log2(sections)
            + p.growth_weight * growth
            + math.log1p(interest)
            + (EDITOR_PICK_BONUS if picked else 0.0)
            + (p.sticky_bonus if sticky else 0.0)
            + (p.position_bonus * 0.5**best_position if best_position is not None else 0.0)
            + p.freshness_weight * freshness(newest, self.week_end)
        )
        return Story(
            lead=self.docs[lead],
            score=score,
            pieces=tuple(self.docs[i] for i in members),
            this_week=len(week),
            days_before=before,
            sources=sources,
            sections=sections,
        )

    def scored(self, exclude_ids: Iterable[int] = (), taken_ids: Iterable[int] = ()) -> list[Story]:
        """Every story with a piece this week that can lead it; a story already represented
        (a pinned piece of it is in the issue) is left out."""
        taken = set(taken_ids)
        skip = {g for i in taken if (g := self.group_of.get(i)) is not None}
        unavailable = set(exclude_ids) | taken
        found = (self.story(g, unavailable) for g in range(len(self.groups)) if g not in skip)
        return [s for s in found if s is not None]

    def top(
        self,
        params: RankParams,
        exclude_ids: Iterable[int] = (),
        taken_ids: Iterable[int] = (),
        interest: Mapping[int, float] | None = None,
    ) -> list[tuple[Doc, float]]:
        """The week's top stories, one lead piece each, under the usual section cap; `interest`
        (by article id) lifts the story of a piece readers' earlier clicks point to."""
        excluded = set(exclude_ids)
        stories = self.scored(excluded, taken_ids)
        bonus = interest or {}
        scores = {
            s.lead.id: s.score + max((bonus.get(p.id, 0.0) for p in s.pieces), default=0.0)
            for s in stories
        }
        return top_stories([s.lead for s in stories], params, self.week_end, excluded, scores)

    def similarity(self, a: Doc, b: Doc) -> float:
        """Cosine of two pieces of the window."""
        return _cosine(self.vectors[self.position[a.id]], self.vectors[self.position[b.id]])

    def siblings(self, doc: Doc, k: int, exclude_ids: Iterable[int] = ()) -> list[Related]:
        """Up to k other pieces of doc's story, closest first, for the top of its related box:
        no copy of the piece or of each other, nothing below the related threshold."""
        if doc.id not in self.position or k <= 0:
            return []
        excluded = set(exclude_ids) | {doc.id}
        others = [self.docs[j] for j in self.groups[self.group_of[doc.id]]]
        ranked = sorted(
            ((self.similarity(doc, other), other) for other in others if other.id not in excluded),
            key=lambda pair: (-pair[0], -pair[1].published_at.timestamp(), pair[1].id),
        )
        chosen: list[Related] = []
        titles = {normalise_title(doc.title)}
        for similarity, other in ranked:
            if similarity < self.params.sibling_similarity or len(chosen) >= k:
                break
            copy = similarity >= self.params.copy_similarity or any(
                self.similarity(c.doc, other) >= self.params.copy_similarity for c in chosen
            )
            if copy or normalise_title(other.title) in titles:
                continue
            chosen.append(Related(other, round(similarity, 4), round(similarity, 4)))
            titles.add(normalise_title(other.title))
        return chosen


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())
