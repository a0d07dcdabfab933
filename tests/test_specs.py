"""Every provider's hand-written spec is valid OpenAPI 3.1 and mounts: each operation has its handler."""

import pytest
from openapi_spec_validator import validate

from mock_server import data_dir, providers
from mock_server.spec import Spec, check_handlers, load_document


@pytest.mark.parametrize("name", providers.names())
def test_spec_is_valid_openapi_and_matches_the_handlers(name):
    provider = providers.load(name)
    document = load_document(data_dir("openapi") / provider.spec_file)
    assert document["openapi"] == "3.1.0"
    validate(document)
    check_handlers(Spec(data_dir("openapi") / provider.spec_file), provider.handlers, name)


def test_admin_spec_is_valid_openapi_and_matches_its_handlers():
    from mock_server.admin import Admin
    document = load_document(data_dir("openapi") / Admin.spec_file)
    validate(document)
    check_handlers(Spec(data_dir("openapi") / Admin.spec_file), Admin.handlers, "_mock")
