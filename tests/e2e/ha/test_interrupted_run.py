"""A run killed halfway (a child drained and its containers being replaced,
the master not done): the next run takes over the dead run's lock at once,
re-admits the child and converges; a third run changes nothing.

The runs are the first of the shared site runs (site_runs.py), which go on
from the third run's state and put the scenario's apps back at the end."""

from __future__ import annotations


def test_killed_run_converges_on_the_next_and_the_third_changes_nothing(site_runs):
    killed = site_runs.killed
    assert not killed["ended_early"], "the run ended before a child was drained"
    assert killed["drained_before_kill"], "no child was drained within 600 s"
    assert killed["drained_after_kill"], "control: the killed run left a child drained"

    second = site_runs.second
    assert second.rc == 0, second.output[-3000:]
    assert "Waiting up to" not in second.output, "the dead run's lock was not taken over at once"
    assert not killed["drained_after_second"], "the next run did not re-admit the drained child"
    third = site_runs.third
    assert third.rc == 0 and sum(third.changed.values()) == 0, f"the third run changed something: {third.changed}"
