"""Schemathesis against the mock, in-process over a real socket, every request signed like a partner app.

All default checks stay on. One setting differs from schemathesis's defaults: COUNT answers a well-formed
request that breaks a business rule (unbalanced entry, unknown account) with 400, never 422, so 400 is an
accepted answer to schema-valid data (positive_data_acceptance).
"""

from __future__ import annotations

import logging
import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from contract_tests.plugins import plugin
from mock_server import data_dir
from mock_server.cli import provider_credentials

schema = schemathesis.openapi.from_path(data_dir("openapi") / "count.yaml")
schema.config.checks.update(included_check_names=None)
schema.config.checks.positive_data_acceptance.expected_statuses = [
    *schema.config.checks.positive_data_acceptance.expected_statuses, "400"]
CREDENTIALS = provider_credentials("count", "")  # the default fixtures, which the target app loads
session = plugin("count").install(schema, CREDENTIALS)
GENERATED: Counter = Counter()
EXAMPLES = int(os.environ.get("LEDGER_MOCK_FUZZ_EXAMPLES", "12"))  # per operation; raise it for a deeper run


@pytest.fixture(scope="module")
def target():
    from werkzeug.serving import make_server
    import threading

    from mock_server.app import create_app
    from mock_server.config import Config

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app(Config(validate_responses=True, rate_limiting=False))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/count"
    server.shutdown()
    print("\nschemathesis cases per operation:", dict(sorted(GENERATED.items())))


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_every_operation_conforms(case, target):
    GENERATED[case.operation.label] += 1
    case.call_and_validate(base_url=target, session=session)


class StatefulMachine(schema.as_state_machine()):
    base_url = None
    answered: Counter = Counter()

    def get_call_kwargs(self, case):
        return {"base_url": self.base_url, "session": session}

    def after_call(self, response, case):
        self.answered[(case.operation.label, response.status_code)] += 1


def test_stateful_sequences_follow_links(target):
    StatefulMachine.base_url = target
    StatefulMachine.run(settings=settings(max_examples=2 * EXAMPLES, derandomize=True, deadline=None, stateful_step_count=6,
                                          suppress_health_check=list(HealthCheck)))
    answered = StatefulMachine.answered
    print("\nstateful calls by (operation, status):", dict(sorted(answered.items())))
    # Links were really followed: an id created in one step was read, updated or deleted in a later one.
    followed = {label for (label, status), n in answered.items() if "{id}" in label and 200 <= status < 300}
    assert len(followed) >= 3, answered
