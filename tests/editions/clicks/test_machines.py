"""Telling machines' clicks from readers': agents, HEAD, timing, bursts."""

from __future__ import annotations

from mailer.editions.clicks.machines import BurstWatch, machine_agent, machine_reason

SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile"


def test_scanner_and_library_agents_are_machines_browsers_are_not():
    assert not machine_agent(SAFARI)
    for agent in ("", "  ", "Go-http-client/1.1", "Mozilla/5.0 (compatible; Barracuda)"):
        assert machine_agent(agent)
    assert machine_agent(SAFARI, extra=("iphone os 17",))  # the operator's own words


def test_reasons_in_order_head_agent_early():
    def reason(method="GET", agent=SAFARI, seconds=None):
        return machine_reason(
            method=method, user_agent=agent, seconds_after_delivery=seconds, scanner_seconds=10
        )

    assert reason() is None
    assert reason(method="HEAD", agent="") == "head"
    assert reason(agent="curl/8") == "agent"
    assert reason(seconds=4) == "early"
    assert reason(seconds=600) is None


def test_a_burst_takes_back_the_clicks_before_it_in_the_same_second_only():
    watch = BurstWatch(limit=3)
    assert watch.see("scanner", 100.0, "a") == (False, [])
    assert watch.see("scanner", 100.4, "b") == (False, [])
    assert watch.see("scanner", 100.8, "c") == (True, ["a", "b"])
    assert watch.see("scanner", 100.9, "d") == (True, [])  # a and b were taken back once
    assert watch.see("reader", 100.9, "a") == (False, [])  # another client is not affected
    assert watch.see("scanner", 200.0, "e") == (False, [])  # a quiet second later: counted


def test_the_watch_forgets_quiet_clients_and_never_grows_past_its_limit():
    watch = BurstWatch(limit=3, max_clients=100)
    for n in range(1000):
        watch.see(f"client{n}", float(n), "x")
    assert len(watch.recent) <= 100
