"""The session secret generated into instance/: one secret, whatever number of workers start."""

import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from web import _secret_key

WORKERS = 16
STARTS = 12


def _start_worker(instance: str, gate: Any, answers: Any) -> None:
    gate.wait(timeout=30)  # every worker reaches for the secret at the same moment
    answers.put(_secret_key(instance))


@pytest.mark.slow
def test_workers_starting_together_all_hold_the_one_secret_on_disk(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.delenv("LEDGER_SECRET_KEY", raising=False)
    context = multiprocessing.get_context("fork")
    for start in range(STARTS):
        instance = tmp_path / f"start-{start}" / "instance"
        gate, answers = context.Barrier(WORKERS), context.Queue()
        workers = [
            context.Process(target=_start_worker, args=(str(instance), gate, answers))
            for _ in range(WORKERS)
        ]
        for worker in workers:
            worker.start()
        secrets = [answers.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
        assert [worker.exitcode for worker in workers] == [0] * WORKERS
        on_disk = (instance / "secret_key").read_text()
        assert set(secrets) == {on_disk}
        assert len(on_disk) == 64 and int(on_disk, 16) >= 0
        assert stat.S_IMODE((instance / "secret_key").stat().st_mode) == 0o600
        assert os.listdir(instance) == ["secret_key"]  # no candidate left behind


def test_a_configured_secret_wins_and_nothing_is_written(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("LEDGER_SECRET_KEY", "from-the-environment")
    assert _secret_key(str(tmp_path / "instance")) == "from-the-environment"
    assert not (tmp_path / "instance").exists()
