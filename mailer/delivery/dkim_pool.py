"""DKIM signing in other processes while a send runs, so both cores sign.

The send engine's workers are threads: canonicalising, hashing and the RSA sign itself (which
`cryptography` does without releasing the GIL) all ran on one core. While `signing_processes`
is open, every DkimSigner with the pool's keys hands its message to a child over its stdin
(length-prefixed raw bytes out, the signed bytes back; no pickling, no executor threads) and
waits with the GIL released. A child that dies, or a pool that cannot start, means signing in
the thread again: the message is the same either way. A child reads EOF and exits when the
sender closes its end or dies, even by SIGKILL.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from mailer.delivery import dkim

log = logging.getLogger(__name__)

Spec = tuple[bytes, tuple[tuple[bytes, bytes, bytes], ...]]  # domain, (selector, a=, PEM)
_LENGTH = struct.Struct(">I")


def _write(out: BinaryIO, data: bytes) -> None:
    out.write(_LENGTH.pack(len(data)) + data)


def _read(source: BinaryIO) -> bytes:
    """One frame; EOFError when the other end has gone."""
    head = source.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError
    size = _LENGTH.unpack(head)[0]
    data = source.read(size)
    if len(data) < size:
        raise EOFError
    return data


class _Pool:
    def __init__(self, spec: Spec, children: list[subprocess.Popen]) -> None:
        self.spec = spec
        self.free: queue.Queue[subprocess.Popen] = queue.Queue()
        for child in children:
            self.free.put(child)
        self.alive = len(children)
        self.lock = threading.Lock()

    def sign(self, raw: bytes) -> bytes | None:
        """The signed message from a child; None when no child is left (sign in the thread)."""
        while self.alive:
            try:
                child = self.free.get(timeout=1.0)
            except queue.Empty:
                continue
            try:
                _write(child.stdin, raw)  # type: ignore[arg-type]
                child.stdin.flush()  # type: ignore[union-attr]
                reply = _read(child.stdout)  # type: ignore[arg-type]
            except (OSError, EOFError):
                with self.lock:
                    self.alive -= 1
                log.warning("a DKIM signing process stopped; signing in the sending thread")
                continue  # _stop reaps it
            self.free.put(child)
            if reply[:1] == b"\0":
                return reply[1:]
            raise ValueError(reply[1:].decode())
        return None


def spec_of(signer: dkim.DkimSigner) -> Spec:
    """What a child needs to make the same signatures: the domain and each key as PEM."""
    return signer.domain, tuple(dkim.spec_key(key) for key in signer.keys)


def _serve(source: BinaryIO, out: BinaryIO) -> None:
    """A child: read the keys, then sign each message that comes in until EOF."""
    domain = _read(source)
    keys = []
    while selector := _read(source):
        keys.append(dkim.key_from_pem(selector, _read(source), _read(source)))
    signer = dkim.DkimSigner(domain.decode(), keys)
    while True:
        try:
            raw = _read(source)
        except EOFError:
            return
        try:
            reply = b"\0" + signer.sign_here(raw)
        except ValueError as exc:
            reply = b"\1" + str(exc).encode()
        _write(out, reply)
        out.flush()


@contextlib.contextmanager
def signing_processes(signer: dkim.DkimSigner | None, count: int) -> Iterator[bool]:
    """Sign with `signer`'s keys in `count` child processes until the block ends; yields
    whether they run (no signer, a count under 1, or processes that cannot start: no)."""
    if signer is None or count < 1:
        yield False
        return
    spec = spec_of(signer)
    children: list[subprocess.Popen] = []
    try:
        for _ in range(count):
            children.append(_start(spec))
    except OSError as exc:
        log.warning("DKIM signing stays in the sending threads: %s", exc)
        _stop(children)
        yield False
        return
    log.info("DKIM signing in %d processes", count)
    dkim.use_pool(_Pool(spec, children))
    try:
        yield True
    finally:
        dkim.use_pool(None)
        _stop(children)


def _start(spec: Spec) -> subprocess.Popen:
    """A child running this module, given the keys first on its stdin."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # importable even when not installed
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    child = subprocess.Popen(
        [sys.executable, "-m", "mailer.delivery.dkim_pool"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    domain, keys = spec
    parts = [domain, *(part for key in keys for part in key), b""]
    try:
        for part in parts:
            _write(child.stdin, part)  # type: ignore[arg-type]
        child.stdin.flush()  # type: ignore[union-attr]
    except OSError:
        _stop([child])
        raise
    return child


def _stop(children: list[subprocess.Popen]) -> None:
    """Close each child's stdin (it reads EOF and returns), then wait for it."""
    for child in children:
        with contextlib.suppress(OSError):
            child.stdin.close()  # type: ignore[union-attr]
    for child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        child.stdout.close()  # type: ignore[union-attr]


if __name__ == "__main__":
    _serve(sys.stdin.buffer, sys.stdout.buffer)
