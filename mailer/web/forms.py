"""The reader's forms: CSRF (Flask-WTF), a honeypot and a signed form timestamp."""

from __future__ import annotations

from datetime import datetime

from flask import request
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.datastructures import CombinedMultiDict
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import DataRequired, Length, Optional

MIN_SECONDS = 3  # faster than a person fills a form
MAX_SECONDS = 2 * 3600  # a form older than this is stale
TOO_FAST = "That was faster than a person can fill in a form. Wait a moment and press Join again."
TOO_OLD = "This form is more than two hours old. Reload the page and try again."
NOT_OURS = "This form was not issued by us. Reload the page and try again."


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="mailer.form-stamp")


def make_stamp(secret: str, issued: datetime, kind: str, page: str | None = None) -> str:
    """A signed 'form issued at' value; the embed uses it as its form token too."""
    return _serializer(secret).dumps({"t": issued.timestamp(), "k": kind, "p": (page or "")[:512]})


def read_stamp(secret: str, stamp: str, kind: str, now: datetime) -> tuple[str | None, str]:
    """(error message or None, page the form was shown on)."""
    try:
        data = _serializer(secret).loads(stamp or "")
    except BadSignature:
        return NOT_OURS, ""
    if not isinstance(data, dict) or data.get("k") != kind:
        return NOT_OURS, ""
    try:
        age = now.timestamp() - float(data.get("t"))
    except (TypeError, ValueError):
        return NOT_OURS, ""
    page = data.get("p") if isinstance(data.get("p"), str) else ""
    if age < MIN_SECONDS:
        return TOO_FAST, page
    if age > MAX_SECONDS:
        return TOO_OLD, page
    return None, page


class TextForm(FlaskForm):
    """A form of text fields only: an uploaded file under a field's name is ignored, never
    handed to a validator that expects a string (which would fail with a 500)."""

    class Meta:
        def wrap_formdata(self, form, formdata):
            data = super().wrap_formdata(form, formdata)
            return request.form if isinstance(data, CombinedMultiDict) else data


class JoinForm(TextForm):
    email = StringField(
        "Email address", validators=[DataRequired("Enter your email address."), Length(max=320)]
    )
    first_name = StringField(
        "First name (optional)",
        validators=[Optional(), Length(max=60, message="Keep your first name to 60 characters.")],
    )
    consent = BooleanField(validators=[DataRequired("Tick the box to agree before joining.")])
    # Hidden from people (CSS and aria-hidden); bots fill every field they see.
    website = StringField("Leave this empty", validators=[Optional()])
    stamp = HiddenField()


class EmbedJoinForm(JoinForm):
    """The iframe form: no session cookie, so CSRF is the Origin check plus the signed stamp."""

    class Meta:
        csrf = False


class PreferencesForm(TextForm):
    first_name = StringField(
        "First name",
        validators=[Optional(), Length(max=60, message="Keep your first name to 60 characters.")],
    )
