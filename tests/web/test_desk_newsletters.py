"""The desk's newsletter switcher, and a rebuild from the desk that stays in its newsletter."""

from sqlalchemy import select

from mailer.content.demo import load_demo
from mailer.core.models import Digest
from mailer.editions import digests
from mailer.readers import newsletters
from tests.fixtures.editors import signed_in, token


def test_the_switcher_shows_one_newsletters_digests_and_rebuilds_stay_in_it(
    client, db, settings, now, accounts
):
    load_demo(db, now, settings.zone, settings.base_url)
    daily = newsletters.add(db, now, slug="daily", name="Daily Brief", cadence="daily")
    digests.build_digest(db, settings, now)
    built = digests.build_digest(db, settings, now, newsletter="daily")
    signed_in(client)
    every = client.get("/admin/digests/").get_data(as_text=True)
    assert "2026-W48" in every and "2026-11-25" in every
    assert 'aria-label="Newsletters"' in every
    only = client.get("/admin/digests/?newsletter=daily").get_data(as_text=True)
    assert "2026-11-25" in only and "2026-W48" not in only
    assert 'aria-current="page">Daily Brief' in only
    board = client.get("/admin/?newsletter=weekly").get_data(as_text=True)
    assert "2026-W48" in board and "2026-11-25" not in board
    assert client.get("/admin/digests/?newsletter=nope").status_code == 404

    page = client.get(f"/admin/digests/{built.digest_id}").get_data(as_text=True)
    answer = client.post(
        f"/admin/digests/{built.digest_id}/rebuild", data={"csrf_token": token(page)}
    )
    assert answer.status_code == 303
    with db.session() as session:
        issues = session.execute(select(Digest.newsletter_id, Digest.period_key)).all()
    assert sorted(issues) == sorted([(1, "2026-W48"), (daily.id, "2026-11-25")])
