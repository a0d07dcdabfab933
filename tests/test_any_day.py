"""The embedded fixtures work on any day (issue 16): on a fresh mock whose clock is far from the fixtures' dates, an
entry dated today is accepted by every provider with the fixtures' credentials. Only Aden needs periods for that:
its entities' `monthly_periods` add an open period for each month of the clock's year and the next that the
fixtures' own periods leave uncovered, built at the instant the state file records, so a replay makes the same."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.aden.conftest import ADMIN, MANUAL_ADMIN, OTHER_ADMIN, AdenClient
from tests.aden.conftest import entry_body as aden_entry
from tests.aden.conftest import ok
from tests.codat.conftest import CodatClient
from tests.codat.conftest import entry as codat_entry
from tests.count.conftest import CountClient
from tests.count.conftest import entry_body as count_entry
from tests.intacct.conftest import JE, IntacctClient
from tests.intacct.conftest import entry_body as intacct_entry

FAR = datetime(2031, 7, 15, 9, 30, tzinfo=UTC)
TODAY = FAR.date().isoformat()


def test_an_entry_dated_today_is_accepted_by_every_provider_on_a_far_day(make_app):
    app = make_app(frozen_time=FAR)

    count = CountClient(app).post("/journal-entries", count_entry(date=TODAY))
    assert count.status_code == 201, count.get_json()
    assert count.get_json()["data"]["date"].startswith(TODAY)

    for token, debit, credit, period in ((ADMIN, "6300", "1010", "P2031M07"), (MANUAL_ADMIN, "6300", "1010",
                                                                               "EU2031M07"),
                                         (OTHER_ADMIN, "4000", "1010", "OT2031M07")):
        made = AdenClient(app, token).post("/journal-entries", aden_entry(f"JE-{TODAY}", date=TODAY, debit=debit,
                                                                         credit=credit))
        assert made.status_code == 201, made.get_json()
        assert (made.get_json()["tran_date"], made.get_json()["posting_period_id"]) == (TODAY, period)

    codat = CodatClient(app).push(codat_entry(posted_on=TODAY))
    assert codat.status_code == 200 and codat.get_json()["status"] == "Success", codat.get_json()
    assert codat.get_json()["data"]["postedOn"] == f"{TODAY}T00:00:00"

    intacct = IntacctClient(app).post(JE, intacct_entry(postingDate=TODAY))
    assert intacct.status_code == 201, intacct.get_json()


def test_the_generated_periods_are_open_months_of_the_clocks_year_and_the_next(make_app):
    aden = AdenClient(make_app(providers=("aden",), frozen_time=FAR))
    periods = ok(aden.get("/accounting-periods", params={"limit": 100}))["data"]
    generated = [p for p in periods if p["period_id"].startswith(("P2031", "P2032"))]
    assert [p["period_id"] for p in generated] == [f"P{y}M{m:02d}" for y in (2031, 2032) for m in range(1, 13)]
    july = next(p for p in generated if p["period_id"] == "P2031M07")
    assert (july["period_name"], july["fiscal_year_id"], july["start_date"], july["end_date"], july["quarter"],
            july["is_closed"]) == ("July 2031", "FY2031", "2031-07-01", "2031-07-31", 3, False)
    # The fixtures' own history stays as it was, closes included.
    closed = ok(aden.get("/accounting-periods", params={"fiscal_year_id": "FY2023", "is_closed": "true"}))
    assert [p["period_id"] for p in closed["data"]] == ["P2023M11", "P2023M12"]
    assert len(periods) == 9 + 24


def test_months_the_fixtures_cover_keep_their_periods(make_app):
    """On the tests' clock (February 2025) the fixtures' FY2025 months stand and only the rest are added."""
    aden = AdenClient(make_app(providers=("aden",)))
    ids = [p["period_id"] for p in ok(aden.get("/accounting-periods", params={"fiscal_year_id": "FY2025",
                                                                             "limit": 100}))["data"]]
    assert ids == ["P2025M01", "P2025M02", "P2025M03"] + [f"P2025M{m:02d}" for m in range(4, 13)]
    manual = ok(AdenClient(make_app(providers=("aden",)), MANUAL_ADMIN).get("/accounting-periods/EU2025M01"))
    assert manual["is_closed"] is True


def test_a_restart_builds_the_periods_at_the_instant_the_state_file_records(make_app, tmp_path):
    """The state file's header, not the clock the server is restarted with, decides the years."""
    state = tmp_path / "state.log"
    first = AdenClient(make_app(providers=("aden",), frozen_time=FAR, state_file=state))
    assert first.post("/journal-entries", aden_entry("JE-FAR", date=TODAY)).status_code == 201
    again = AdenClient(make_app(providers=("aden",), frozen_time=None, state_file=state))
    assert ok(again.get("/journal-entries/JE-FAR"))["posting_period_id"] == "P2031M07"
    assert ok(again.get("/accounting-periods/P2032M12"))["period_name"] == "December 2032"
    this_year = datetime.now(UTC).year  # the restarted server's clock: no periods are made for its year
    if this_year not in (2025, 2031, 2032):
        assert again.get(f"/accounting-periods/P{this_year}M12").status_code == 404
