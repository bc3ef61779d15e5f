"""What a newcomer reads in `make run`'s console: the first steps, and the scheduler's work."""

import logging

import pytest

from mailer.cli.console import console_logging, first_look
from mailer.content.demo import load_demo
from mailer.editions import digests
from mailer.scheduler.jobs import run_once


def test_first_look_names_the_pages_the_mail_folder_and_the_build_to_come(services, now):
    load_demo(services.db, now, services.settings.zone)
    lines = "\n".join(first_look(services, "http://127.0.0.1:5000", scheduler=True))
    assert "http://127.0.0.1:5000/join" in lines and "http://127.0.0.1:5000/admin" in lines
    assert "`mailer editors add you@example.com`" in lines  # no editor account yet
    assert services.settings.transport.removeprefix("file://") + "/ " in lines  # the .eml folder
    # 25 Nov 2026 is a Wednesday: Sunday's 18:00 build of 2026-W47 is due on the first tick
    assert "within a minute the scheduler builds 2026-W47" in lines
    assert run_once(services, now)[0].startswith("build: 2026-W47 created")
    after = "\n".join(first_look(services, "http://127.0.0.1:5000", scheduler=True))
    assert "scheduler builds" not in after
    assert digests.find_digest(services.db, "2026-W47").status == "draft"


def test_without_a_scheduler_nothing_is_promised(services, now):
    lines = first_look(services, "http://h:1", scheduler=False)
    assert not any("the scheduler" in line for line in lines)


@pytest.fixture
def root_level():
    root = logging.getLogger()
    level, apscheduler = root.level, logging.getLogger("apscheduler").level
    yield
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(apscheduler)


def test_the_scheduler_logs_its_work_at_info(root_level, caplog):
    console_logging("INFO")
    assert logging.getLogger("mailer.scheduler.jobs").isEnabledFor(logging.INFO)
    assert not logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO)
