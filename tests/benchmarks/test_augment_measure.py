"""What the augmentation benchmarks measure besides throughput: CPU by role from ``/proc``, and the
driver's RSS split into its private and object-store parts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from augment_measure import ProcessCpu, ProgressSampler, rss_mib, rss_parts


def test_cpu_of_the_descendants_by_role():
    sleep = "import time; time.sleep(30)"
    server = subprocess.Popen([sys.executable, "-c", sleep])
    actor = subprocess.Popen([sys.executable, "-c", sleep, "MarkedActor"])
    try:
        processes = ProcessCpu(server.pid, actor_marker="MarkedActor", min_interval_s=3600)
        processes.poll()
        first = dict(processes.seen)
        processes.poll()  # within min_interval_s: not read again
        assert processes.seen == first
        assert {server.pid, actor.pid} <= set(processes.seen)
        assert processes.seen[server.pid][0] == "server"
        assert processes.seen[actor.pid][0] == "actors"
        actor.kill()
        actor.wait()
        processes.poll(force=True)  # an actor gone keeps its role and the time last seen
        assert processes.seen[actor.pid][0] == "actors"
        assert set(processes.by_role()) == {"server", "actors"}
    finally:
        for process in (server, actor):
            process.kill()
            process.wait()


def test_rss_parts_add_up():
    total, private, shared = rss_parts()
    assert abs(total - rss_mib()) < 64
    assert 0 < private <= total
    assert 0 <= shared <= total
    with ProgressSampler(lambda: 1.0, every=3600) as sampler:
        pass
    assert len(sampler.samples[-1]) == 5
    assert "private" in sampler.rss_line()
