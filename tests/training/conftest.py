import pytest
import torch


@pytest.fixture(autouse=True)
def _cpu_one_thread_default_flags(monkeypatch):
    """Keep every training test on the CPU, even on a machine with a GPU, and on one thread.

    The models here are tiny: a second intra-op thread only adds synchronisation, and on a busy
    two-core machine the threads spin against each other (100x slower steps were measured).
    """
    monkeypatch.setenv("I2DL_DEVICE", "cpu")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    if torch.are_deterministic_algorithms_enabled():
        torch.use_deterministic_algorithms(False)
