"""The ceiling for bench/signup.py: a Flask POST that does nothing, served the same way."""

from flask import Flask, request

app = Flask(__name__)


@app.post("/echo")
def echo():
    return {"ok": bool(request.form.get("email"))}
