import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from harness import HTTPBackend, Sidecar  # noqa: E402


@pytest.fixture
def backend():
    b = HTTPBackend()
    yield b
    b.close()


@pytest.fixture
def start_sidecar():
    started = []

    def start(config, **kwargs):
        s = Sidecar(config, **kwargs)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
