"""`mailer related evaluate|tune` on the demo archive: editors' desk choices and judgment files."""

import json

import pytest
from sqlalchemy import select

from mailer.content.demo import DEMO_SITE, load_demo
from mailer.core.models import Article, RelatedJudgment
from mailer.editions import digests, editing


@pytest.fixture
def demo(db, settings, now):
    load_demo(db, now, settings.zone)


def link(section: str, slug: str) -> str:
    return f"{DEMO_SITE}/{section}/{slug}"


# Six demo stories, each with a follow-up (1, or 2 for the same event) and an unrelated piece (0)
PAIRS = [
    ("politics/budget-passed-libraries-saved", "politics/budget-draft-cuts-libraries", 2),
    ("politics/budget-passed-libraries-saved", "sport/rovers-win-derby", 0),
    ("local/flood-cleanup-begins", "local/flood-river-bursts-banks", 2),
    ("local/flood-cleanup-begins", "culture/bakery-wins-award", 0),
    ("sport/rovers-clinch-promotion", "sport/rovers-win-derby", 1),
    ("sport/rovers-clinch-promotion", "science/university-telescope", 0),
    ("business/loomwise-layoffs", "business/loomwise-raises-funding", 1),
    ("business/loomwise-layoffs", "local/hospital-new-wing", 0),
    ("culture/museum-reopens-crowds", "culture/museum-viking-boat", 1),
    ("culture/museum-reopens-crowds", "politics/cycling-lanes-market-street", 0),
    ("politics/tram-route-chosen", "local/tram-northgate-support", 1),
    ("politics/tram-route-chosen", "business/heat-pumps-grants", 0),
]


def write_pairs(path, pairs=PAIRS, csv=False):
    if csv:
        rows = ["story,candidate,grade,reason"] + [
            f"{DEMO_SITE}/{s},{DEMO_SITE}/{c},{g},judged for the test" for s, c, g in pairs
        ]
    else:
        rows = [
            json.dumps(
                {
                    "query": f"{DEMO_SITE}/{s}?utm_source=x",
                    "candidate": f"{DEMO_SITE}/{c}",
                    "grade": g,
                }
            )
            for s, c, g in pairs
        ]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def test_evaluate_says_so_when_editors_have_judged_nothing(cli, demo):
    result = cli("related", "evaluate")
    assert result.exit_code == 1 and "no judgments yet" in result.stderr


def shown_by_the_method(cli, items):
    for item in items:
        found = json.loads(cli("articles", "related", str(item.article_id), "--json").stdout)
        shown = {row["id"] for row in found["related"]}
        for related in item.related:
            if related.article_id in shown:
                return item, related
    raise AssertionError("no related piece of the demo digest comes from related coverage")


def test_evaluate_measures_on_what_editors_added_and_removed(cli, db, settings, now, demo):
    digest_id = digests.build_digest(db, settings, now).digest_id
    # a related piece the related-coverage method itself shows (a box also holds the story's
    # own other pieces, which that method does not judge)
    item, removed = shown_by_the_method(cli, digests.find_digest(db, digest_id).items)
    editing.remove_related(db, digest_id, removed.id, "ed@example.com", now)
    with db.session() as session:
        extra = session.scalar(
            select(Article).where(Article.url == link("culture", "bakery-wins-award"))
        )
    if extra.id != item.article_id:
        editing.add_related(db, digest_id, item.id, extra.id, "ed@example.com", now)
    with db.session() as session:
        judged = {(j.related_id, j.grade) for j in session.scalars(select(RelatedJudgment))}
    assert (removed.article_id, 0) in judged and (extra.id, 1) in judged
    result = cli("related", "evaluate", "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["stories"] == 1 and figures["stories_with_related"] == 1
    # the build shows what the editor removed, and would not show the bakery piece
    assert figures["judged_shown"] == 1 and figures["relevant_shown"] == 0
    assert figures["coverage"] == 0.0 and figures["precision"] == 0.0
    text = cli("related", "evaluate")
    assert "from the editors' choices on the desk" in text.stdout
    assert "Coverage: 0 of 1" in text.stdout and "Precision: 0 of 1" in text.stdout


@pytest.mark.parametrize("csv", [False, True])
def test_evaluate_a_judgments_file_by_links(cli, demo, tmp_path, csv):
    path = write_pairs(tmp_path / ("j.csv" if csv else "j.jsonl"), csv=csv)
    result = cli("related", "evaluate", "--file", path, "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["stories"] == 6 and figures["stories_with_related"] == 6
    assert figures["coverage"] == 1.0  # the demo's follow-ups find each other
    assert figures["precision"] == 1.0  # and no unrelated piece judged here is shown
    assert figures["not_stored"] == []


def test_links_that_match_nothing_are_reported_not_fatal(cli, demo, tmp_path):
    pairs = [*PAIRS[:2], ("politics/no-such-story", "sport/rovers-win-derby", 1)]
    result = cli("related", "evaluate", "--file", write_pairs(tmp_path / "j.jsonl", pairs))
    assert result.exit_code == 0, result.output
    assert "Not stored, so left out: 1 links" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", "line 1: not JSON."),
        ('{"query": "x", "candidate": "y", "grade": 5}\n', "line 1: grade must be 0, 1 or 2."),
        ('{"query": "x", "grade": 1}\n', "line 1: give the story (or query) and the candidate."),
        ("[1, 2]\n", "line 1: expected an object"),
        ("\n\n", "holds no judgments"),
    ],
)
def test_bad_judgment_files_fail_with_one_sentence(cli, demo, tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    result = cli("related", "evaluate", "--file", str(path))
    assert result.exit_code == 1 and message in result.stderr
    assert "Traceback" not in result.output


def test_tune_fits_on_half_and_reports_the_other_half(cli, demo, tmp_path):
    result = cli("related", "tune", "--file", write_pairs(tmp_path / "j.jsonl"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data["params"]) == {"floor", "background", "relative", "enough"}
    assert data["fit"]["stories"] == 3 and data["held_out"]["stories"] == 3
    assert data["fit"]["precision"] >= 0.75
    text = cli("related", "tune", "--file", write_pairs(tmp_path / "j.jsonl"))
    assert "Fitted cut: floor=" in text.stdout and "held-out half" in text.stdout
    few = cli("related", "tune", "--file", write_pairs(tmp_path / "few.jsonl", PAIRS[:4]))
    assert few.exit_code == 1 and "at least 4 stored stories" in few.stderr
