"""The demo's pictures ship in the package and this app serves them where its mail points."""

import re
import struct
from html import unescape

import pytest

from mailer.content.demo import DEMO_IMAGE_PATH, demo_rows, load_demo
from mailer.content.demo_images import HEIGHT, IMAGE_DIR, WIDTH, scene, write_all
from mailer.editions import digests
from mailer.editions.render import render_digest


def test_every_demo_picture_is_a_small_png_drawn_by_our_generator(tmp_path):
    rows = [r for r in demo_rows() if r.get("image_alt")]
    assert len(rows) >= 20
    shipped = sorted(p.name for p in IMAGE_DIR.glob("*.png"))
    assert shipped == sorted(f"{r['slug']}.png" for r in rows)
    for row in rows:
        data = (IMAGE_DIR / f"{row['slug']}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 8 * 1024
        assert struct.unpack(">II", data[16:24]) == (WIDTH, HEIGHT)
        assert data == scene(row["slug"], row["section"])  # regenerated, byte for byte
    again = write_all(rows[:2], tmp_path)
    assert [p.read_bytes() for p in again] == [(IMAGE_DIR / p.name).read_bytes() for p in again]
    assert scene(rows[0]["slug"], "Sport") != scene(rows[1]["slug"], "Sport")


def test_the_demo_digest_shows_pictures_this_app_serves(client, db, settings, now):
    load_demo(db, now, settings.zone, settings.base_url)
    built = digests.build_digest(db, settings, now)
    html = render_digest(digests.find_digest(db, built.digest_id), settings).html
    sources = [unescape(s) for s in re.findall(r'<img[^>]*src="([^"]+)"', html)]
    assert len(sources) >= 3
    prefix = settings.base_url + DEMO_IMAGE_PATH + "/"
    for src in sources:
        assert src.startswith(prefix), src
        with client.get(src.removeprefix(settings.base_url)) as response:  # closes the file
            assert response.status_code == 200
            assert response.mimetype == "image/png"
            assert response.data == (IMAGE_DIR / src.rsplit("/", 1)[1]).read_bytes()
            assert "max-age=86400" in response.headers["Cache-Control"]


@pytest.mark.parametrize(
    "name", ["no-such-story.png", "..%2Fdemo_articles.jsonl", "%2E%2E", "..%5Cdemo.py"]
)
def test_only_the_demo_pictures_are_served(client, name):
    response = client.get(f"{DEMO_IMAGE_PATH}/{name}")
    assert response.status_code == 404
    assert b"demo_articles" not in response.data and b"slug" not in response.data


def test_the_demo_command_points_pictures_at_the_base_url(cli, db, settings):
    from sqlalchemy import select

    from mailer.core.models import Article

    assert cli("demo").exit_code == 0
    with db.session() as session:
        urls = [u for u in session.scalars(select(Article.image_url)) if u]
    assert urls and all(u.startswith(f"{settings.base_url}{DEMO_IMAGE_PATH}/") for u in urls)
