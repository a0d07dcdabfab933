"""The contract suite: collected by pytest when `ledger-mock contract` runs (see runner.py), never directly.

Schemathesis generates requests from our spec for every selected operation (examples, coverage and fuzzing
phases, positive and negative data), follows OpenAPI links through stateful sequences, and judges every
response with all of its default checks plus ours; the provider plugin authenticates each request and asks
the rule probes. Every failure is recorded for the drift report before pytest sees it. The session waits out
429s (a 429 that persists is a finding) and stops each test, as a skip, once the run's budget is spent; what a
test had not done by then is listed as not exercised.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis.checks import load_all_checks
from schemathesis.core.errors import NoLinksFound
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario

from contract_tests import checks as ours
from contract_tests.findings import failures_of
from contract_tests.runner import active
from contract_tests.session import BudgetSpent, persisted
from mock_server import fidelity
from mock_server.spec import load_document

job = active()
plugin = job.plugin
document = load_document(job.spec_path)
schema = schemathesis.openapi.from_dict(document)
if job.include:
    schema = schema.include(operation_id=list(job.include))
if job.exclude:
    schema = schema.exclude(operation_id=list(job.exclude))
if job.read_only:
    schema = schema.include(method=["GET", "HEAD", "OPTIONS"])
acceptance = schema.config.checks.positive_data_acceptance
acceptance.expected_statuses = [*acceptance.expected_statuses, *getattr(plugin, "RULE_REFUSALS", ("400",))]
session = job.session
plugin.install(schema, job.credentials, session, job.base_url)
EXTRA = [ours.error_envelope(document, plugin.ERROR_SCHEMA), ours.money_fields(plugin.MONEY_FIELDS)]
READS_BACK = [] if job.read_only else [ours.reads_back(document, plugin.unwrap, session, job.base_url)]
EXTRA += READS_BACK
KEYS_SENT: set[str] = set()  # idempotency keys sent in this run
load_all_checks()
CHECK = {c.__name__: c for c in schemathesis.checks.CHECKS.get_all()}
# Read-only runs must not send an unlisted method either: that probe could be a DELETE.
EXCLUDED = [CHECK["unsupported_method"]] if job.read_only else []
# Where the provider ignores what it does not know (its departures ledger says so, with the evidence), a request
# whose only fault is an undeclared query parameter or body field is rightly answered as if it were not there.
policy = fidelity.load(job.provider)
IGNORED = {location for location, rule in (("query", policy.unknown_query), ("body", policy.unknown_body))
           if rule == "ignore"}
SETTINGS = dict(max_examples=job.max_examples, deadline=None, database=None, derandomize=job.seed is None,
                suppress_health_check=list(HealthCheck))


def excluded(case):
    """The checks that do not apply to this case."""
    skipped = list(EXCLUDED)
    key = ours.idempotency_key(case)
    if key is not None:
        if key in KEYS_SENT:  # a replay answers as the first time, naming a record that may be deleted since
            skipped += [CHECK["ensure_resource_availability"], *READS_BACK]
        KEYS_SENT.add(key)
    data = case.meta.phase.data if case.meta is not None else None
    if not isinstance(data, CoveragePhaseData):
        return skipped
    if (data.scenario == CoverageScenario.OBJECT_UNEXPECTED_PROPERTIES and data.parameter_location is not None
            and data.parameter_location.value in IGNORED):
        skipped.append(CHECK["negative_data_rejection"])
    if data.scenario == CoverageScenario.UNSPECIFIED_HTTP_METHOD and policy.unmocked(case.method.upper(), case.path):
        # Our spec leaves the method out, but the real API has it (the ledger lists it): not a 405 there, and a
        # 501 from the mock says so.
        skipped += [CHECK["unsupported_method"], CHECK["not_a_server_error"]]
    return skipped


def judged(case, response, *, validate):
    if persisted(response):
        job.run.add(case.operation.label, "rate limit persisted", persisted(response), response)
        raise AssertionError(persisted(response))
    try:
        validate()
    except (AssertionError, BaseExceptionGroup) as error:
        for title, message in failures_of(error):
            job.run.add(case.operation.label, title, message, response)
        raise


def unexercised(part, done=0):
    job.run.unexercised.append(f"{part} (after {done} cases)" if done else part)


@pytest.fixture(autouse=True)
def within_budget(request):
    """Once the budget is spent, every test left is skipped before Hypothesis spends time generating its data."""
    try:
        session.budget.check()
    except BudgetSpent:
        name = request.node.name
        unexercised(name.split("[", 1)[1].removesuffix("]") if "[" in name else
                    name.removeprefix("test_").replace("_", " "))
        raise


@schema.parametrize()
@settings(**SETTINGS)
def test_operation(case):
    label = case.operation.label
    try:
        response = case.call(base_url=job.base_url, session=session)
        job.run.cases[label] += 1
        judged(case, response, validate=lambda: case.validate_response(response, additional_checks=EXTRA,
                                                                       excluded_checks=excluded(case)))
    except BudgetSpent:
        unexercised(label, job.run.cases[label])
        raise


class Stateful(schema.as_state_machine()):
    def get_call_kwargs(self, case):
        return {"base_url": job.base_url, "session": session}

    def validate_response(self, response, case, additional_checks=(), **kwargs):
        # As the parent class validates, with the checks that do not apply to this case left out.
        judged(case, response, validate=lambda: case.validate_response(
            response, additional_checks=[*(additional_checks or ()), *EXTRA], excluded_checks=excluded(case),
            transport_kwargs=kwargs or None, recorder=self.recorder))


if job.stateful and not job.read_only:  # stateful sequences create, change and delete records
    def test_stateful_sequences():
        """Hypothesis re-runs parts of earlier sequences and expects the same answers, but a target keeps the
        records each sequence made, so a rule may find its bundle empty one time and full the next
        (FlakyStrategyDefinition). That says nothing about drift, so the sequences run again, from the state the
        target is in now; every answer on the way was judged as it came."""
        for attempt in range(1, 4):
            try:
                Stateful.run(settings=settings(**{**SETTINGS, "max_examples": 2 * job.max_examples},
                                               stateful_step_count=6))
                return
            except BudgetSpent:
                unexercised("stateful sequences (part way)")
                raise
            except NoLinksFound:
                pytest.skip("no OpenAPI link joins two of the selected operations")
            except FlakyStrategyDefinition:
                if attempt == 3:
                    raise


def test_provider_rules():
    broken, asked = [], 0
    try:
        for probe in plugin.probes(session, job.base_url, job.credentials, read_only=job.read_only):
            asked += 1
            if persisted(probe.response):
                job.run.add(probe.operation, "rate limit persisted", f"{probe.rule}: {persisted(probe.response)}",
                            probe.response)
                broken.append(probe.rule)
            elif not probe.held:
                expected = " or ".join(map(str, sorted(probe.expected)))
                job.run.add(probe.operation, "provider rule", f"{probe.rule}: expected {expected}, got "
                            f"{probe.response.status_code}", probe.response)
                broken.append(probe.rule)
    except BudgetSpent:
        unexercised(f"provider rules (after {asked} probes)" if asked else "provider rules")
        raise
    assert not broken, broken
