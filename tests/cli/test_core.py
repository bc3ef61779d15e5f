import json
import socket
import subprocess
import sys
from pathlib import Path

from mailer.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run_mailer(*args, env=None, cwd=None):
    """Run the real entry point in a child process, as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "mailer", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


def clean_env(tmp_path, **extra):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
    env.update({"MAILER_INSTANCE_DIR": str(tmp_path / "instance"), "PYTHONPATH": str(ROOT)})
    env.update(extra)
    return env


def test_help_everywhere():
    from click.testing import CliRunner

    runner = CliRunner()
    for command in main.commands.values():
        result = runner.invoke(main, [command.name, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output
        for sub in getattr(command, "commands", {}).values():
            result = runner.invoke(main, [command.name, sub.name, "--help"])
            assert result.exit_code == 0, result.output


def test_config_masks_secrets(cli):
    result = cli("config", "--json")
    assert result.exit_code == 0
    shown = json.loads(result.output)
    assert shown["MAILER_SECRET_KEY"] == "***"
    assert shown["MAILER_ENV"] == "development"


def test_bad_setting_exits_2_with_one_sentence(tmp_path):
    result = run_mailer(
        "config", env=clean_env(tmp_path, MAILER_TRANSPORT="bogus://x"), cwd=tmp_path
    )
    assert result.returncode == 2
    assert "MAILER_TRANSPORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_twice_is_a_no_op(tmp_path, database_url):
    env = clean_env(tmp_path, MAILER_DATABASE_URL=database_url)
    first = run_mailer("db", "upgrade", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "upgraded from empty" in first.stdout
    second = run_mailer("db", "upgrade", env=env, cwd=tmp_path)
    assert second.returncode == 0
    assert "already at" in second.stdout
    current = run_mailer("db", "current", env=env, cwd=tmp_path)
    assert current.returncode == 0
    assert "up to date" in current.stdout


def test_unreachable_database_is_a_sentence_not_a_traceback(tmp_path):
    env = clean_env(tmp_path, MAILER_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    result = run_mailer("db", "current", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "database could not be used" in result.stderr
    assert "Traceback" not in result.stderr


def test_dotenv_is_read_by_the_entry_point(tmp_path):
    (tmp_path / ".env").write_text("MAILER_SITE_NAME=Dotenv Gazette\n")
    result = run_mailer("config", "--json", env=clean_env(tmp_path), cwd=tmp_path)
    assert json.loads(result.stdout)["MAILER_SITE_NAME"] == "Dotenv Gazette"


def test_demo_loads_once(cli, db):
    from sqlalchemy import func, select

    from mailer.core.models import Article

    first = cli("demo")
    assert first.exit_code == 0, first.output
    with db.session() as session:
        count = session.scalar(select(func.count()).select_from(Article))
    assert count >= 30
    assert f"{count} new articles" in first.output
    again = cli("demo", "--if-empty")
    assert "already stored" in again.output
    reload = cli("demo")
    assert "0 new articles" in reload.output


def test_demo_spans_weeks_with_sections_and_tags(cli, db, now, settings):
    from sqlalchemy import select

    from mailer.core.models import Article

    cli("demo")
    with db.session() as session:
        articles = session.scalars(select(Article)).all()
    weeks = {a.published_at.astimezone(settings.zone).isocalendar()[:2] for a in articles}
    assert len(weeks) >= 4
    assert len({a.section for a in articles}) >= 4
    assert all(a.tags for a in articles)
    assert all(a.published_at <= now for a in articles)


def test_scheduler_once_accepts_a_fixed_moment(cli):
    result = cli("scheduler", "--once", "--now", "2026-11-29T18:00:00+00:00")
    assert result.exit_code == 0, result.output
    bad = cli("scheduler", "--once", "--now", "2026-11-29T18:00:00")
    assert bad.exit_code == 2
    assert "zone offset" in bad.output


def test_demo_can_build_this_weeks_digest_for_a_first_look(cli):
    result = cli("demo", "--build")
    assert result.exit_code == 0, result.output
    assert "Digest 2026-W48 created: 5 stories" in result.output
    assert "2026-W48" in cli("digest", "list").output


def test_the_installed_package_can_import_the_app_factory(tmp_path):
    """`mailer serve` imports app.py; from an install that must work from any folder."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = "import app; print(callable(app.create_app))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_serve_on_a_taken_port_is_one_sentence_with_a_way_out(cli):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = cli("serve", "--port", str(port), "--no-scheduler")
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert f"make run PORT={port + 1}" in result.output and "MAILER_PORT" in result.output
    assert "Traceback" not in result.output
