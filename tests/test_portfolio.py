"""``connect_notebook.portfolio``: customers from a synced dataset, compared period over period.

The session sandbox's three customers are synced into ``tmp_path`` (as ``cn.sync``'s users
do) and the comparison is checked against ``charts.kpis`` of each family's ground truth;
small hand-built frames pin the exact metric values, and a property test checks that
the totals add up for any calls.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import vl_convert as vlc
from hypothesis import given
from hypothesis import strategies as st
from loader_support import expected_calls, family_truth

import connect_notebook as cn
from connect_notebook import ConnectApp, charts, portfolio
from connect_notebook._cache import write_family
from connect_notebook.sandbox import Sandbox

NOW = "2026-11-01T12:00:00+00:00"
CURRENT, PREVIOUS = portfolio.periods("2026-10-02", "2026-11-01", tz="UTC")


def sid(n: int) -> str:
    return f"AC{n:032x}"


# ---------------------------------------------------------------------------------------------
# On the sandbox: a synced portfolio
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def synced(sandbox: Sandbox, app: ConnectApp, tmp_path: Path) -> Path:
    connected = [sandbox.authorize(s) for s in sandbox.customer_account_sids]
    summary = cn.sync(
        connected, tmp_path, app=app, resources=["calls"], start=PREVIOUS.start_at, end=CURRENT.end_at, progress=False
    )
    assert summary["error"].null_count() == summary.height
    return tmp_path


def test_customers_of_a_synced_dataset_are_the_sandboxs_families(sandbox: Sandbox, synced: Path) -> None:
    who = portfolio.customers(synced)
    assert who.schema == portfolio.CUSTOMERS_SCHEMA
    families = {sandbox.connected_sid(main): sandbox.family(main) for main in sandbox.customer_account_sids}
    got = {c: g["account_sid"].to_list() for (c,), g in who.partition_by("customer", as_dict=True).items()}
    assert got == families
    mains = who.filter("is_main")
    assert sorted(mains["account_sid"]) == sorted(sandbox.customer_account_sids)
    assert (mains["label"] == "AC…" + mains["account_sid"].str.slice(-4)).all()  # no names given: last four


def test_customers_are_named_by_the_accounts_frames(sandbox: Sandbox, app: ConnectApp, synced: Path) -> None:
    names = pl.concat([cn.accounts(s, app=app) for s in sandbox.connected_account_sids])
    who = portfolio.customers(synced, accounts=names)
    for main in sandbox.customer_account_sids:
        name = sandbox.state.account(main).friendly_name  # type: ignore[union-attr]
        assert who.filter(pl.col("account_sid") == main)["label"].item() == f"{name} (AC…{main[-4:]})"
    assert who["label"].to_list() == sorted(who["label"].to_list())  # customers sorted by label


def test_compare_agrees_with_kpis_of_each_familys_ground_truth(sandbox: Sandbox, synced: Path) -> None:
    who = portfolio.customers(synced)
    comparison = portfolio.compare(cn.scan_calls(cache_dir=synced), who, current=CURRENT, previous=PREVIOUS)
    assert comparison.height == 3
    for main in sandbox.customer_account_sids:
        truth = expected_calls(family_truth(sandbox, main))
        row = comparison.filter(pl.col("customer") == sandbox.connected_sid(main)).row(0, named=True)
        for period, suffix in ((CURRENT, ""), (PREVIOUS, "_previous")):
            inside = truth.filter(pl.col("start_time").is_between(period.start_at, period.end_at, closed="left"))
            kpis = charts.kpis(inside).row(0, named=True)
            assert row[f"calls{suffix}"] == kpis["total_calls"]
            assert row[f"minutes{suffix}"] == kpis["total_minutes"]
            assert row[f"cost{suffix}"] == pytest.approx(kpis["total_cost"])
            assert row[f"asr{suffix}"] == pytest.approx(kpis["asr"])
            assert row[f"acd_seconds{suffix}"] == pytest.approx(kpis["acd_seconds"])
        assert row["calls_growth"] == pytest.approx(row["calls"] / row["calls_previous"] - 1)
        assert row["asr_change"] == pytest.approx(row["asr"] - row["asr_previous"])


def test_by_account_adds_up_to_compare(synced: Path) -> None:
    who = portfolio.customers(synced)
    calls = cn.scan_calls(cache_dir=synced)
    comparison = portfolio.compare(calls, who, current=CURRENT, previous=PREVIOUS)
    breakdown = portfolio.by_account(calls, who, period=CURRENT)
    assert breakdown.height == who.height  # every account, the Connect subaccounts with zeros
    totals = breakdown.group_by("customer").agg(pl.col("calls").sum(), pl.col("cost").sum(), pl.col("share").sum())
    joined = comparison.join(totals, on="customer", suffix="_accounts")
    assert (joined["calls"] == joined["calls_accounts"]).all()
    assert joined["cost"].to_list() == pytest.approx(joined["cost_accounts"].to_list())
    assert joined["share"].to_list() == pytest.approx([1.0] * 3)


def test_the_portfolio_charts_render_to_svg_offline(synced: Path) -> None:
    who = portfolio.customers(synced)
    calls = cn.scan_calls(cache_dir=synced)
    comparison = portfolio.compare(calls, who, current=CURRENT, previous=PREVIOUS)
    breakdown = portfolio.by_account(calls, who, period=CURRENT)
    for chart in [
        *(portfolio.change_chart(comparison, m) for m in portfolio.METRICS),
        portfolio.accounts_chart(breakdown),
    ]:
        spec = chart.to_json()
        assert json.loads(spec) == json.loads(chart.to_json())  # the same frame, the same spec
        svg = vlc.vegalite_to_svg(spec)
        assert svg.startswith("<svg") and "http" not in svg.replace("http://www.w3.org/", "")


# ---------------------------------------------------------------------------------------------
# Exact values on hand-built frames
# ---------------------------------------------------------------------------------------------


def call(
    account: str, day: str, status: str = "completed", duration: int = 60, cost: float = 0.01, **more: Any
) -> dict:
    return {
        "sid": f"CA{len(str(more)):032x}",
        "parent_call_sid": more.get("parent"),
        "account_sid": account,
        "status": status,
        "start_time": datetime.fromisoformat(day).replace(tzinfo=UTC),
        "duration": duration if status == "completed" else 0,
        "cost": cost,
        "price_unit": "USD",
    }


def frame(rows: list[dict]) -> pl.DataFrame:
    schema = {k: cn.CALLS_SCHEMA[k] for k in ("sid", "parent_call_sid", "account_sid", "status")}
    schema |= {"start_time": cn.CALLS_SCHEMA["start_time"], "duration": pl.Int64, "cost": pl.Float64}
    return pl.DataFrame(rows, schema={**schema, "price_unit": pl.String})


WHO = pl.DataFrame(
    [
        {"customer": sid(1), "label": "Alpha", "account_sid": sid(1), "account": "Alpha", "is_main": True},
        {"customer": sid(1), "label": "Alpha", "account_sid": sid(2), "account": "Alpha East", "is_main": False},
        {"customer": sid(3), "label": "Beta", "account_sid": sid(3), "account": "Beta", "is_main": True},
        {"customer": sid(4), "label": "Gamma", "account_sid": sid(4), "account": "Gamma", "is_main": True},
    ],
    schema=portfolio.CUSTOMERS_SCHEMA,
)


def test_compare_computes_each_metric_exactly() -> None:
    calls = frame(
        [
            # Alpha, current: 4 attempts over two accounts (1 failed, 1 busy), one forwarded leg.
            call(sid(1), "2026-10-05T10:00", duration=120, cost=0.10),
            call(sid(1), "2026-10-05T10:00", duration=61, cost=0.05, parent="CA" + "1" * 32),  # agent leg
            call(sid(2), "2026-10-06T10:00", duration=30, cost=0.02),
            call(sid(2), "2026-10-07T10:00", status="failed", cost=0.0),
            call(sid(1), "2026-10-08T10:00", status="busy", cost=0.0),
            # Alpha, previous: 2 attempts, both answered.
            call(sid(1), "2026-09-10T10:00", duration=60, cost=0.04),
            call(sid(2), "2026-09-11T10:00", duration=60, cost=0.04),
            # Beta: only before; Gamma nothing. Outside both periods, and another customer's account: left out.
            call(sid(3), "2026-09-20T10:00", status="failed", cost=0.0),
            call(sid(1), "2026-11-01T00:00", cost=9.0),
            call(sid(1), "2026-09-01T23:59", cost=9.0),
            call(sid(9), "2026-10-05T10:00", cost=9.0),
        ]
    )
    c = portfolio.compare(calls, WHO, current=CURRENT, previous=PREVIOUS)
    assert isinstance(c, portfolio.Comparison)
    assert c["label"].to_list() == ["Alpha", "Beta", "Gamma"] and c["accounts"].to_list() == [2, 1, 1]
    alpha, beta, gamma = c.iter_rows(named=True)
    assert (alpha["calls"], alpha["answered"], alpha["calls_previous"]) == (4, 2, 2)
    assert alpha["asr"] == 0.5 and alpha["asr_previous"] == 1.0 and alpha["asr_change"] == -0.5
    assert alpha["failure_rate"] == 0.25 and alpha["failure_rate_change"] == 0.25
    assert alpha["acd_seconds"] == 75.0  # (120 + 30) / 2: answered attempts only, not the agent leg
    assert alpha["minutes"] == 2 + 2 + 1  # per started minute, every leg
    assert alpha["minutes_previous"] == 2 and alpha["minutes_growth"] == 1.5
    assert alpha["cost"] == pytest.approx(0.17) and alpha["cost_growth"] == pytest.approx(0.17 / 0.08 - 1)
    assert alpha["calls_growth"] == 1.0 and alpha["cost_unit"] == "USD"
    assert (beta["calls"], beta["calls_previous"], beta["calls_growth"]) == (0, 1, -1.0)
    assert beta["asr"] is None and beta["asr_previous"] == 0.0 and beta["failure_rate_previous"] == 1.0
    assert (gamma["calls"], gamma["calls_previous"], gamma["cost"]) == (0, 0, 0.0)
    assert gamma["calls_growth"] is None and gamma["asr_change"] is None  # nothing to grow from
    table = c._repr_html_()
    assert "<td style='padding:4px 10px;border-top:1px solid #e1e3ea'>Alpha</td>" in table
    assert "+100.0%" in table and "-50.0 pts" in table and "1.2 min" in table


def test_movers_rank_by_the_size_of_the_move_either_way() -> None:
    calls = frame(
        [
            *(call(sid(1), "2026-09-10T10:00", cost=1.0) for _ in range(3)),
            call(sid(1), "2026-10-10T10:00", cost=1.0),  # Alpha: 3.00 -> 1.00
            call(sid(3), "2026-09-10T10:00", cost=0.5),
            call(sid(3), "2026-10-10T10:00", cost=1.5),  # Beta: 0.50 -> 1.50 (tripled, but a smaller amount)
            call(sid(4), "2026-10-10T10:00", cost=1.0),  # Gamma: 0 -> 1.00, ties Beta on the amount
        ]
    )
    c = portfolio.compare(calls, WHO, current=CURRENT, previous=PREVIOUS)
    cost = portfolio.movers(c, "cost")
    assert isinstance(cost, portfolio.Movers)
    assert cost["label"].to_list() == ["Alpha", "Beta", "Gamma"]
    assert cost["change"].to_list() == pytest.approx([-2.0, 1.0, 1.0])
    assert cost["growth"].to_list()[:2] == pytest.approx([-2 / 3, 2.0]) and cost["growth"][2] is None
    assert portfolio.movers(c, "cost", n=1)["label"].to_list() == ["Alpha"]
    assert "-2.00" in cost._repr_html_()
    rates = portfolio.movers(c, "failure_rate")
    assert rates["change"].to_list() == [0.0, 0.0]  # Gamma has no previous rate: no move to rank
    assert "+0.0 pts" in rates._repr_html_()


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        pytest.param({"metric": "revenue"}, "metric must be one of calls, asr", id="unknown-metric"),
        pytest.param({"metric": "cost", "n": 0}, "n must be a whole number", id="n-zero"),
        pytest.param({"metric": "cost", "n": True}, "n must be a whole number", id="n-bool"),
    ],
)
def test_movers_refuses_bad_arguments(arguments: dict[str, Any], words: str) -> None:
    c = portfolio.compare(frame([]), WHO, current=CURRENT, previous=PREVIOUS)
    with pytest.raises(ValueError, match=words):
        portfolio.movers(c, **arguments)


def test_by_account_lists_every_account_with_its_share() -> None:
    calls = frame(
        [call(sid(1), "2026-10-05T10:00"), *(call(sid(2), "2026-10-05T11:00", status="failed") for _ in range(3))]
    )
    b = portfolio.by_account(calls, WHO, period=CURRENT)
    assert isinstance(b, portfolio.Breakdown)
    assert b["account"].to_list() == ["Alpha", "Alpha East", "Beta", "Gamma"]
    assert b["calls"].to_list() == [1, 3, 0, 0]
    assert b["share"].to_list() == [0.25, 0.75, None, None]
    assert b["failure_rate"].to_list() == [0.0, 1.0, None, None]
    assert "Alpha East" in b._repr_html_()


def test_the_charts_refuse_an_unknown_metric() -> None:
    c = portfolio.compare(frame([]), WHO, current=CURRENT, previous=PREVIOUS)
    with pytest.raises(ValueError, match="metric must be one of"):
        portfolio.change_chart(c, "revenue")
    with pytest.raises(ValueError, match="they add up over accounts"):
        portfolio.accounts_chart(portfolio.by_account(frame([]), WHO, period=CURRENT), "asr")


statuses = st.sampled_from(["completed", "busy", "no-answer", "failed", "canceled"])
moments = st.datetimes(min_value=datetime(2026, 8, 25), max_value=datetime(2026, 11, 5))


@given(
    st.lists(
        st.tuples(st.sampled_from([1, 2, 3, 4, 9]), moments, statuses, st.integers(0, 4000), st.booleans()),
        max_size=40,
    )
)
def test_any_calls_give_rates_between_0_and_1_and_totals_that_add_up(rows: list[tuple]) -> None:
    calls = frame(
        [
            call(
                sid(a),
                when.isoformat(),
                status,
                duration,
                cost=duration / 1000,
                parent="CA" + "0" * 32 if leg else None,
            )
            for a, when, status, duration, leg in rows
        ]
    )
    c = portfolio.compare(calls, WHO, current=CURRENT, previous=PREVIOUS)
    for m in ("asr", "failure_rate", "asr_previous", "failure_rate_previous"):
        assert all(0.0 <= v <= 1.0 for v in c[m].drop_nulls())
    assert (c["answered"] <= c["calls"]).all()
    attempts = [
        (a, when.replace(tzinfo=UTC))
        for a, when, _, _, leg in rows
        if not leg and a != 9 and PREVIOUS.start_at <= when.replace(tzinfo=UTC) < CURRENT.end_at
    ]
    assert c["calls"].sum() + c["calls_previous"].sum() == len(attempts)
    b = portfolio.by_account(calls, WHO, period=CURRENT)
    assert b["calls"].sum() == c["calls"].sum()
    assert b["cost"].sum() == pytest.approx(c["cost"].sum())


# ---------------------------------------------------------------------------------------------
# Customers from the files, and the periods
# ---------------------------------------------------------------------------------------------


def test_two_connections_of_one_customer_are_one_customer_and_an_account_without_a_family_is_its_own(
    tmp_path: Path,
) -> None:
    write_family(tmp_path, sid(10), [sid(1), sid(2), sid(10)])
    write_family(tmp_path, sid(11), [sid(1), sid(11)])  # a second Connect App subaccount of the same customer
    (tmp_path / "calls" / f"account={sid(5)}").mkdir(parents=True)  # data, but no family
    (tmp_path / "families" / "notes.txt").write_text("not a family")
    who = portfolio.customers(tmp_path)
    assert who.select("customer", "account_sid").rows() == [
        (sid(10), sid(1)),
        (sid(10), sid(2)),
        (sid(10), sid(10)),
        (sid(10), sid(11)),  # the same customer (its main account): one row per account, one customer
        (sid(5), sid(5)),
    ]
    assert who.filter("is_main")["account_sid"].to_list() == [sid(1), sid(5)]  # AC…0001 sorts before AC…0005


@pytest.mark.parametrize(
    ("dataset", "error", "words"),
    [
        pytest.param("missing", ValueError, "is not a folder", id="missing"),
        pytest.param(5, TypeError, "dataset must be the folder", id="number"),
    ],
)
def test_customers_refuses_what_is_not_a_dataset(tmp_path: Path, dataset: object, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        portfolio.customers(tmp_path / dataset if isinstance(dataset, str) else dataset)  # type: ignore[arg-type]


def test_customers_of_an_empty_folder_is_an_empty_frame(tmp_path: Path) -> None:
    assert portfolio.customers(tmp_path).schema == portfolio.CUSTOMERS_SCHEMA
    assert portfolio.customers(tmp_path).height == 0


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(None, None, ("2026-10-02", "2026-11-01", "2026-09-02"), id="default-30-days"),
        pytest.param("2026-09-01", None, ("2026-09-01", "2026-10-01", "2026-08-02"), id="start-only"),
        pytest.param(None, "2026-09-01", ("2026-08-02", "2026-09-01", "2026-07-03"), id="end-only"),
        pytest.param("2026-10-01", "2026-10-08", ("2026-10-01", "2026-10-08", "2026-09-24"), id="a-week"),
    ],
)
def test_periods_are_the_days_asked_for_and_as_many_before(
    start: str | None, end: str | None, expected: tuple[str, str, str]
) -> None:
    current, previous = portfolio.periods(start, end, tz="America/New_York", today=date(2026, 11, 1))
    assert (str(current.start), str(current.end), str(previous.start)) == expected
    assert previous.end == current.start and previous.days == current.days
    assert current.start_at == datetime.fromisoformat(f"{expected[0]}T00:00:00-04:00")  # New York midnight, EDT
    assert str(current) == f"{expected[0]} to {expected[1]} (end excluded)"


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        pytest.param({"start": "2026-10-10", "end": "2026-10-01"}, r"end \(2026-10-01\) must be after", id="reversed"),
        pytest.param({"start": "2026/10/01"}, "start must be a day", id="slashes"),
        pytest.param({"end": datetime(2026, 10, 1)}, "end must be a day", id="a-datetime"),
        pytest.param({"tz": "Mars/Olympus"}, "tz must be an IANA time zone", id="unknown-tz"),
    ],
)
def test_periods_refuses_bad_days(arguments: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        portfolio.periods(**arguments)


def test_on_the_embedded_sandbox_the_default_customers_are_all_and_today_is_its_day(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONNECT_NOTEBOOK_SANDBOX_NOW", "2026-11-01T02:00:00+00:00")
    customers = cn.default_customers()
    assert len(customers) == 3 and customers[0] == cn.default_customer()
    assert cn.today() == date(2026, 11, 1)
    assert cn.today("America/New_York") == date(2026, 10, 31)  # 22:00 the evening before
    assert cn.today("America/New_York") - timedelta(days=30) == date(2026, 10, 1)


def test_on_real_twilio_with_nothing_connected_there_are_no_default_customers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECT_NOTEBOOK_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("CONNECT_NOTEBOOK_AUTH_TOKEN", "0" * 32)
    monkeypatch.setenv("CONNECT_NOTEBOOK_CONNECT_APP_SID", "CN" + "2" * 32)
    with pytest.raises(cn.ConfigError, match="no connected customers to report on"):
        cn.default_customers()
