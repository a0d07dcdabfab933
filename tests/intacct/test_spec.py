from __future__ import annotations

import yaml

from mock_server import data_dir


def test_every_error_response_is_an_ia_error_body():
    document = yaml.safe_load((data_dir("openapi") / "intacct.yaml").read_text())
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters" or operation["operationId"] == "getToken":
                continue
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    name = response["$ref"].rsplit("/", 1)[-1]
                    schema = document["components"]["responses"][name]["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (path, method, status)
