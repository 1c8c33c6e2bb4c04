"""The capacity model's arithmetic (benchmarks/capacity.py) against cases worked by hand."""

import math

import pytest

from benchmarks.capacity import (
    DAY_S,
    DECATHLON,
    Challenge,
    Costs,
    Mix,
    Task,
    _handover_s,
    _idle_while_waiting,
    erlang_c,
    mean_wait,
    smallest_servers,
    wait_quantile,
)


def test_mm1_is_the_textbook_queue():
    # λ = 0.5/s, S = 1 s: ρ = 0.5, P(wait) = ρ, Wq = ρ/(μ − λ) = 1 s,
    # P(W > t) = ρ·e^(−(μ−λ)t) → t95 = ln(0.5/0.05)/0.5 = 2 ln 10.
    assert erlang_c(1, 0.5) == pytest.approx(0.5)
    assert mean_wait(0.5, 1.0, 1) == pytest.approx(1.0)
    assert wait_quantile(0.5, 1.0, 1, 0.95) == pytest.approx(2 * math.log(10))


def test_mm2_against_the_erlang_c_sum():
    # c = 2, a = 1: C = (a²/2!)/(1−ρ) / (1 + a + (a²/2!)/(1−ρ)) = 1 / 3; cμ − λ = 1.
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert mean_wait(1.0, 1.0, 2) == pytest.approx(1 / 3)
    assert wait_quantile(1.0, 1.0, 2, 0.95) == pytest.approx(math.log((1 / 3) / 0.05))
    # An arrival waits with probability 1/3 < 0.5: the median wait is zero.
    assert wait_quantile(1.0, 1.0, 2, 0.5) == 0.0


def test_erlang_c_matches_the_direct_sum_for_many_servers():
    servers, offered = 40, 35.0
    terms = sum(offered**k / math.factorial(k) for k in range(servers))
    top = offered**servers / math.factorial(servers) / (1 - offered / servers)
    assert erlang_c(servers, offered) == pytest.approx(top / (terms + top), rel=1e-12)
    assert 0 < erlang_c(800, 790.0) < 1  # the recursion stays finite where factorials do not


def test_deterministic_service_halves_the_wait():
    # Allen–Cunneen: cs² = 0 (M/D/c) gives (1 + 0)/2 of the M/M/c wait.
    assert mean_wait(0.5, 1.0, 1, service_cv2=0.0) == pytest.approx(0.5)
    assert wait_quantile(0.5, 1.0, 1, 0.95, service_cv2=3.0) == pytest.approx(4 * math.log(10))


def test_overload_has_no_steady_state():
    assert erlang_c(2, 2.5) == 1.0
    assert mean_wait(2.0, 1.0, 2) == math.inf
    assert wait_quantile(3.0, 1.0, 2, 0.95) == math.inf


def test_smallest_servers_meets_the_target_and_the_cap():
    # a = 1: one server is saturated; two wait ln(20/3) s at p95 (above).
    p95_two = math.log((1 / 3) / 0.05)
    assert smallest_servers(1.0, 1.0, target_s=p95_two + 1e-9) == 2
    assert smallest_servers(1.0, 1.0, target_s=p95_two - 1e-3) == 3
    # A zero p95 needs C ≤ 0.05: C(3, 1) = 0.25 / 2.75 = 1/11, C(4, 1) = (1/18) / (8/3 + 1/18).
    assert erlang_c(3, 1.0) == pytest.approx(1 / 11)
    assert erlang_c(4, 1.0) == pytest.approx((1 / 18) / (8 / 3 + 1 / 18))
    assert smallest_servers(1.0, 1.0, target_s=0.0) == 4
    assert smallest_servers(8.0, 1.0, target_s=1e9, max_utilisation=0.5) == 16


def test_mix_moments():
    # Two kinds at 1/s each, 1 s and 3 s: mean 2 s, E[S²] = 5, cs² = 5/4 − 1.
    mix = Mix.of([(1.0, 1.0), (1.0, 3.0)])
    assert (mix.arrival_rate, mix.service_mean) == (2.0, 2.0)
    assert mix.service_cv2 == pytest.approx(0.25)
    assert mix.utilisation(8) == pytest.approx(0.5)


def test_decathlon_load_and_costs():
    challenge, costs = Challenge(), Costs()
    assert challenge.per_task_s * len(DECATHLON) * DAY_S == pytest.approx(25_000)
    # The pipeline's own case (256×256×128, 3 labels) costs the measured 2 ns per voxel.
    case = Task("Bench", (256, 256, 128), 3, 50)
    assert costs.case_s(case) == pytest.approx(256 * 256 * 128 * 2e-9)
    assert costs.scoring_s(case) == pytest.approx(0.1 + 50 * 256 * 256 * 128 * 2e-9)
    # One label costs 1/1.466 of three; a tiny case costs the floor.
    one = Task("One", (256, 256, 128), 1, 1)
    assert costs.case_s(one) == pytest.approx(costs.case_s(case) / 1.466)
    assert costs.case_s(Task("Tiny", (8, 8, 8), 1, 1)) == costs.case_floor_s
    # Scoring jobs, ten phases' refreshes and one overall ranking share the CPU queue.
    cpu = challenge.cpu(costs)
    refresh = 1 / (1 / challenge.per_task_s + costs.debounce_s)
    overall = 1 / (1 / (10 * refresh) + costs.debounce_s)
    assert cpu.arrival_rate == pytest.approx(10 * challenge.per_task_s + 10 * refresh + overall)
    assert challenge.gpu(costs) is None
    assert Challenge(algorithm_share=0.5).gpu(costs).arrival_rate == pytest.approx(
        5 * challenge.per_task_s)


def test_simulation_bookkeeping():
    # Rows are (enqueued, start, end, worker pid). B waits for A on the one worker and starts
    # 0.5 s after A ends: that gap is the handover, and no worker idled while B waited.
    rows = [(0.0, 0.0, 2.0, 1), (1.0, 2.5, 3.0, 1)]
    assert _handover_s(rows) == pytest.approx(0.5)
    assert _idle_while_waiting(rows, 1, 0.5) == pytest.approx(0.0)
    # With two workers the second one idled through all of B's wait.
    assert _idle_while_waiting(rows, 2, 0.5) == pytest.approx(1.0)
    # A job enqueued after the previous one ended is no handover.
    assert _handover_s([(0.0, 0.0, 1.0, 7), (5.0, 5.1, 6.0, 7)]) == 0.0


@pytest.mark.parametrize("bad", [
    lambda: erlang_c(0, 1.0),
    lambda: erlang_c(2, -1.0),
    lambda: mean_wait(0.0, 1.0, 1),
    lambda: mean_wait(1.0, math.nan, 1),
    lambda: wait_quantile(1.0, 1.0, 2, 1.0),
    lambda: smallest_servers(1.0, 1.0, target_s=-1),
    lambda: smallest_servers(1.0, 1.0, target_s=1, max_utilisation=0),
    lambda: Mix.of([]),
    lambda: Mix.of([(0.0, 1.0)]),
])
def test_bad_input_is_refused(bad):
    with pytest.raises(ValueError):
        bad()
