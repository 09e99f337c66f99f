"""The OpenAPI document describes every route of the API, each method, and is valid."""

from openapi_spec_validator import validate

from tests.support.api_records import PREFIX, api_routes


def test_every_route_and_method_is_described(app, client):
    document = client.get(f"{PREFIX}/openapi.json").get_json()
    routes = api_routes(app)
    assert routes, "no API routes found"
    missing = [
        f"{method.upper()} {path}"
        for path, methods in routes.items()
        for method in methods
        if method not in document["paths"].get(path, {})
    ]
    assert not missing, f"routes without a description: {missing}"
    described = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    actual = {(path, method) for path, methods in routes.items() for method in methods}
    assert described == actual, "the description names routes that do not exist"


def test_the_document_is_valid_and_every_answer_has_a_schema(client):
    document = client.get(f"{PREFIX}/openapi.json").get_json()
    validate(document)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for status, answer in operation["responses"].items():
                assert "$ref" in answer or status == "204" or answer.get("content"), (
                    path,
                    method,
                    status,
                )
