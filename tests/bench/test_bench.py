"""bin/bench in miniature: every figure is measured and printed, so the benchmark cannot rot."""

from __future__ import annotations

from io import StringIO

import pytest

from bench import run
from messaging.models import ErrorEvent, ErrorRollup, Send

pytestmark = pytest.mark.django_db


def test_the_benchmark_builds_a_data_set_and_prints_every_figure(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out = StringIO()
    args = ["--sends", "3000", "--repeat", "2", "--warmup", "1", "--naive-repeat", "1"]
    groups = [arg for group in ("breakdown", "pages", "ingest", "worker") for arg in ("--only", group)]
    figures = run.main([*args, *groups, "--keyset-pages", "5", "--ingest-batches", "2", "--worker-sends", "5"], out=out)
    table = out.getvalue()
    names = [f.name for f in figures]
    assert names[0] == "generate 3,000 sends" and "built" in figures[0].note
    for window in ("24h", "30d"):
        for scope in ("all providers", "23telecom-eu"):
            assert f"breakdown partial {window}, {scope}" in names
            assert f"breakdown CSV {window}, {scope}" in names
            assert f"  naive GROUP BY {window}, {scope}" in names
    assert {"overview page", "send search by recipient", "send search by request id", "send log page 1"} <= set(names)
    assert "send log page 5 (keyset)" in names
    by_name = {f.name: f for f in figures}
    assert len(by_name["ingest, batch of 1,000 events"].samples) == 2
    assert len(by_name["worker CPU per send"].samples) == 5
    assert all(f.p50 >= 0 for f in figures[1:])
    for name in names:
        assert name in table
    assert "p50" in table and "target" in table and "x the rollups'" in table
    # The generator wrote the data set and its rollups; the ingest and worker figures really wrote rows.
    assert Send.objects.count() >= 3000 + 2000 + 5
    assert ErrorEvent.objects.count() > 0 and ErrorRollup.objects.exists()


def test_a_second_run_reuses_the_data_set(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first = run.build_figure(2000, StringIO())
    again = run.build_figure(2000, StringIO())
    assert "built" in first.note and again.note.startswith("reused")
    assert again.p50 == pytest.approx(first.p50, abs=0.1)  # recorded to 0.1 s


def test_the_send_api_accept_figure_posts_batches_of_a_thousand_through_a_route(simulator_root):
    from messaging.models import Route

    route = run._bench_route(simulator_root)
    args = run.parse_args(["--api-batches", "1"])
    figure = run._accept_figure(route, args)
    assert figure.name == "send API accept, batch of 1,000" and len(figure.samples) == 1
    assert Send.objects.filter(route=route).count() == 2000  # the warm-up batch and the timed one
    assert set(Route.objects.get(slug="bench-otp").steps.values_list("provider__slug", flat=True)) == {
        "bench-23telecom",
        "bench-8x8",
    }
