"""Shared test fixtures."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """Run torch on one intra-op thread (restored afterwards).

    Tiny networks gain nothing from intra-op threads, and on a busy machine
    every small operation waits for the slowest thread.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
