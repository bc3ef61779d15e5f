"""Related coverage is pure: plain Doc values in, related pieces and the reason for each out."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from mailer.content.ranking import Doc
from mailer.content.related import (
    RelatedIndex,
    RelatedParams,
    read,
    related,
    related_coverage,
    tokens,
)

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def doc(n, title, summary="", section="News", days=0.0, tags=()) -> Doc:
    return Doc(n, title, summary, section, tuple(tags), T0 - timedelta(days=days))


def test_tokens_drop_stopwords_and_fold_plurals():
    assert tokens("The libraries\u2019 budgets and the Library budget") == [
        "library",
        "budget",
        "library",
        "budget",
    ]
    assert tokens("The libraries of Riverton's councils") == ["library", "riverton", "council"]


def test_reading_finds_phrases_within_a_clause_and_names_from_how_they_are_written():
    reading = read("Mayor Ada Okafor visited the harbour. Okafor's plan: new ferries for ACME")
    assert "ada okafor" in reading.phrases
    assert "harbour okafor" not in reading.phrases  # a full stop ends a phrase
    assert "plan new" not in reading.phrases and "ferry acme" not in reading.phrases
    assert "okafor" in reading.capitalised and "ada" in reading.capitalised
    assert "acme" in reading.capitalised  # an acronym
    assert "mayor" not in reading.capitalised  # first word of a sentence proves nothing
    assert "harbour" in reading.lowered
    # A headline In Title Case says nothing about names, save for its acronyms
    title = read("Council Votes To Close The NHS Clinic On Harbour Road")
    assert title.capitalised == ["nhs"]


ARCHIVE = [
    doc(
        1,
        "Council votes to close two branch libraries",
        "Budget cuts hit libraries.",
        section="Politics",
        tags=("libraries",),
    ),
    doc(
        2,
        "Libraries closure vote delayed by council",
        "The council delays the libraries vote.",
        section="Politics",
        days=10,
        tags=("libraries",),
    ),
    doc(
        3,
        "Readers rally to save branch libraries",
        "Protest over budget cuts and library closures.",
        section="Local",
        days=20,
        tags=("libraries",),
    ),
    doc(
        4,
        "Council votes to close two branch libraries",
        "Same piece, syndicated.",
        section="Politics",
        days=1,
    ),
    doc(5, "Rovers win the derby", "Football match report.", section="Sport", days=2),
    doc(
        6,
        "Council votes to close two branch libraries today",
        "Budget cuts hit libraries.",
        section="Politics",
        days=3,
    ),
    doc(
        7,
        "Libraries closure vote delayed by the council",
        "The council delays the vote.",
        section="Politics",
        days=11,
        tags=("libraries",),
    ),
]


def test_related_coverage_finds_the_story_and_nothing_unrelated():
    index = RelatedIndex.build(ARCHIVE)
    found = related_coverage(index, ARCHIVE[0], 3)
    ids = [r.doc.id for r in found]
    assert 1 not in ids  # not itself
    assert 4 not in ids and 6 not in ids  # the same piece re-published
    assert 5 not in ids  # nothing in common
    assert ids[0] == 3  # shares the budget cuts and the branch libraries
    assert not ({2, 7} <= set(ids))  # two near-duplicates are never both shown
    assert [r.score for r in found] == sorted((r.score for r in found), reverse=True)
    assert all(r.score >= RelatedParams().floor for r in found)


def test_one_shared_thing_is_a_coincidence_two_are_a_link():
    story = doc(1, "Council votes to close two branch libraries", "Budget cuts hit libraries.")
    one = doc(2, "Readers rally to save branch libraries", "A protest on the green.", days=5)
    two = doc(3, "Readers rally to save branch libraries", "A protest over budget cuts.", days=5)
    assert related_coverage(RelatedIndex.build([story, one]), story, 3) == []
    assert [r.doc.id for r in related_coverage(RelatedIndex.build([story, two]), story, 3)] == [3]


def test_related_coverage_leaves_out_what_the_issue_already_shows():
    index = RelatedIndex.build(ARCHIVE)
    ids = [r.doc.id for r in related_coverage(index, ARCHIVE[0], 3, exclude_ids={2, 7})]
    assert ids == [3]


def test_related_coverage_decays_with_distance_in_days():
    near = [ARCHIVE[0], replace(ARCHIVE[2], published_at=T0 - timedelta(days=5))]
    far = [ARCHIVE[0], replace(ARCHIVE[2], published_at=T0 - timedelta(days=400))]
    score_near = related_coverage(RelatedIndex.build(near), near[0], 3)[0].score
    far_index = RelatedIndex.build(far)
    far_score = related_coverage(far_index, far[0], 3, cut=False)[0].score
    assert far_score < score_near
    assert related_coverage(far_index, far[0], 3) == []  # a year on, below the floor


def test_related_coverage_is_deterministic_and_respects_k():
    index = RelatedIndex.build(ARCHIVE)
    shuffled = RelatedIndex.build(list(reversed(ARCHIVE)))
    one = [(r.doc.id, r.score) for r in related_coverage(index, ARCHIVE[0], 3)]
    two = [(r.doc.id, r.score) for r in related_coverage(shuffled, ARCHIVE[0], 3)]
    assert one == two
    assert len(related_coverage(index, ARCHIVE[0], 1)) == 1
    assert related_coverage(index, ARCHIVE[0], 0) == []


def test_a_story_outside_the_index_gets_nothing_rather_than_an_error():
    index = RelatedIndex.build(ARCHIVE[1:])
    assert related_coverage(index, doc(99, "Unknown"), 3) == []
    assert related_coverage(RelatedIndex.build([]), doc(99, "Unknown"), 3) == []


def test_related_for_one_story_needs_no_index_by_hand():
    story = doc(50, "Council votes to close two branch libraries", "Budget cuts.")
    ids = [r.doc.id for r in related(story, ARCHIVE[1:], 3)]
    assert ids and ids[0] == 3  # the closest follow-up
    assert not {4, 5, 6} & set(ids)  # copies of the story and the football report stay out
    assert related(story, ARCHIVE[1:], 3, exclude_ids={2, 3, 7}) == []


def filler(n: int) -> list[Doc]:
    """An archive's everyday pieces: each shares a common word or two with anything political."""
    topics = ["roads", "schools", "taxes", "parks", "housing", "buses", "water", "police"]
    return [
        doc(
            100 + i,
            f"Council debates {topics[i % len(topics)]} plan for district {i}",
            f"The council met on the {topics[(i + 3) % len(topics)]} question again.",
            days=1 + i % 60,
        )
        for i in range(n)
    ]


def test_a_shared_name_counts_for_more_than_a_shared_common_word():
    story = doc(
        1,
        "Council Leader Defends Harbour Plan",
        "Councillor Ada Okafor said the harbour plan would bring jobs.",
    )
    follow_up = doc(
        2,
        "Okafor Faces Questions Over Ferry Contract",
        "Critics asked Ada Okafor who chose the ferry operator.",
        days=7,
    )
    common_words = doc(
        3,
        "New Plan For Jobs In The City",
        "The plan would bring jobs, the council said.",
        days=7,
    )
    index = RelatedIndex.build([story, follow_up, common_words, *filler(60)])
    found = related_coverage(index, story, 3)
    assert [r.doc.id for r in found][:1] == [2]
    assert "Okafor" in found[0].names and "Ada" in found[0].names
    assert found[0].reason.startswith("Both name ")


def test_a_story_with_nothing_related_gets_an_empty_box():
    story = doc(1, "Comet Seen Over The Valley", "Astronomers say it returns in 2061.")
    index = RelatedIndex.build([story, *filler(80)])
    assert related_coverage(index, story, 3) == []


def test_the_bar_rises_with_the_story_s_own_background():
    """Where every piece shares words with the story, a loose match is background, not news."""
    story = doc(1, "Council debates housing plan for district 7", "The council met on housing.")
    loose = doc(2, "Council debates parks plan", "The council met on parks and housing.", days=3)
    crowd = filler(80)
    index = RelatedIndex.build([story, loose, *crowd])
    ranked = related_coverage(index, story, 3, cut=False)
    assert ranked  # it does share words with many pieces ...
    shown = related_coverage(index, story, 3)
    assert len(shown) < len(ranked)  # ... but only what stands out of them is shown


def test_the_reason_lists_names_and_words_as_written():
    story = doc(1, "Netflix Adds Three Comedies", "New comedies arrive on Netflix this week.")
    other = doc(2, "The Best Comedies On Netflix", "Our picks of Netflix comedies.", days=5)
    found = related_coverage(RelatedIndex.build([story, other]), story, 3)
    assert found and found[0].names == ("Netflix",)
    assert found[0].terms == ("comedies",)
    assert found[0].reason == "Both name Netflix; both mention comedies"


def test_related_coverage_skips_copies_and_shown_items():
    docs = [
        doc(1, "Council passes budget keeping libraries open", tags=["budget"]),
        doc(2, "Council passes budget, keeping libraries open"),  # re-published
        doc(3, "Library closures split the council budget vote", days=14, tags=["budget"]),
        doc(4, "Draft budget proposes closing two libraries", days=30, tags=["budget"]),
        doc(5, "Protest to save branch libraries from budget cuts", section="Local", days=20),
        doc(6, "Football club wins the derby", section="Sport", days=1),
    ]
    index = RelatedIndex.build(docs)
    ids = [r.doc.id for r in related_coverage(index, docs[0], 3)]
    assert ids and set(ids) <= {3, 4, 5}
    without = related_coverage(index, docs[0], 3, exclude_ids={ids[0]})
    assert ids[0] not in [r.doc.id for r in without]


def test_nothing_is_shown_when_nothing_is_shared():
    docs = [doc(1, "Comet seen over the city"), doc(2, "Bakery wins bread award")]
    assert related_coverage(RelatedIndex.build(docs), docs[0], 3) == []
