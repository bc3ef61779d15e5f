"""The reader's forms: CSRF (Flask-WTF), a honeypot and a signed form timestamp."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.datastructures import CombinedMultiDict
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import DataRequired, Length, Optional

from mailer.core.i18n import N_

# Under this many seconds is a signal, not a verdict: a person with autofill takes about two.
# It refuses a submission only where no CAPTCHA proves a person (MAILER_CAPTCHA=none, which
# production refuses); with a CAPTCHA it is logged and noted in the consent record.
MIN_SECONDS = 1.0
MAX_SECONDS = 2 * 3600  # a form older than this is stale
TOO_FAST = N_("That was quicker than a person usually is. Check the form and press Join again.")
TOO_OLD = N_("This form is more than two hours old. Reload the page and try again.")
NOT_OURS = N_("This form was not issued by us. Reload the page and try again.")


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="mailer.form-stamp")


def make_stamp(secret: str, issued: datetime, kind: str, page: str | None = None) -> str:
    """A signed 'form issued at' value; the embed uses it as its form token too."""
    return _serializer(secret).dumps({"t": issued.timestamp(), "k": kind, "p": (page or "")[:512]})


class Stamp(NamedTuple):
    """What a form's stamp says: an error for a stamp not ours or too old, the page the form
    was shown on, and the seconds since it was issued."""

    error: str | None
    page: str
    age: float

    @property
    def too_fast(self) -> bool:
        return self.error is None and self.age < MIN_SECONDS


def read_stamp(secret: str, stamp: str, kind: str, now: datetime) -> Stamp:
    """Check a posted stamp; its age is judged by the caller, with the other signals."""
    try:
        data = _serializer(secret).loads(stamp or "")
    except BadSignature:
        return Stamp(NOT_OURS, "", 0.0)
    if not isinstance(data, dict) or data.get("k") != kind:
        return Stamp(NOT_OURS, "", 0.0)
    try:
        age = now.timestamp() - float(data.get("t"))
    except (TypeError, ValueError):
        return Stamp(NOT_OURS, "", 0.0)
    page = data.get("p") if isinstance(data.get("p"), str) else ""
    return Stamp(TOO_OLD if age > MAX_SECONDS else None, page, age)


class TextForm(FlaskForm):
    """A form of text fields only: an uploaded file under a field's name is ignored, never
    handed to a validator that expects a string (which would fail with a 500)."""

    class Meta:
        def wrap_formdata(self, form, formdata):
            data = super().wrap_formdata(form, formdata)
            return request.form if isinstance(data, CombinedMultiDict) else data


class JoinForm(TextForm):
    """Join on our own page. CSRFProtect checks every such POST before the view runs, so the
    form does not check the token a second time (nor sign a fresh one it would not use);
    the page carries the session's token in a hidden field of its own."""

    class Meta:
        csrf = False

    carries_csrf_field = True
    email = StringField(
        _l("Email address"),
        validators=[DataRequired(_l("Enter your email address.")), Length(max=320)],
    )
    first_name = StringField(
        _l("First name (optional)"),
        validators=[
            Optional(),
            Length(max=60, message=_l("Keep your first name to 60 characters.")),
        ],
    )
    consent = BooleanField(validators=[DataRequired(_l("Tick the box to agree before joining."))])
    # Hidden from people (CSS and aria-hidden); bots fill every field they see.
    website = StringField(_l("Leave this empty"), validators=[Optional()])
    stamp = HiddenField()


class EmbedJoinForm(JoinForm):
    """The iframe form: no session cookie, so CSRF is the Origin check plus the signed stamp."""

    carries_csrf_field = False


class PreferencesForm(TextForm):
    first_name = StringField(
        _l("First name"),
        validators=[
            Optional(),
            Length(max=60, message=_l("Keep your first name to 60 characters.")),
        ],
    )
