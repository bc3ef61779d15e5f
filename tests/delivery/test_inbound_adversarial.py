"""A hostile subject cannot stall `mailer inbound`: the token pattern is linear.

A hard limit as a correctness check, not a speed measurement: the old pattern needed minutes
for this 1 MB subject (it grows with the square), the linear one well under a second, so 60 s
(most of it room for the child's start-up on a busy machine) separates "finishes" from
"hangs" on any machine.
"""

import subprocess
import sys

from tests.fixtures.mailing import mailer_env

ONE_MB = 1024 * 1024


def test_a_megabyte_of_repeated_prefixes_is_refused_quickly(settings):
    subject = b"unsubscribe-" * (ONE_MB // 12)
    mail = b"Subject: " + subject + b"\r\n\r\nPlease.\r\n"
    done = subprocess.run(
        [sys.executable, "-m", "mailer", "inbound"],
        input=mail,
        capture_output=True,
        env=mailer_env(settings),
        timeout=60,
    )
    assert done.returncode == 1
    assert b"carries no unsubscribe token" in done.stderr + done.stdout
