"""The CFN response filter drops only typed values Heat writes as "None"."""

import webob

from heat_wsgi import cfn_compat

HEAT_LIST = (b"<ListStacksResponse><member><CreationTime>2026-11-22T01:27:03Z</CreationTime>"
             b"<LastUpdatedTime>None</LastUpdatedTime><StackName>None</StackName>"
             b"<TimeoutInMinutes>None</TimeoutInMinutes><OutputValue>None</OutputValue>"
             b"<DeletionTime>None</DeletionTime></member></ListStacksResponse>")


def test_typed_none_elements_are_dropped_strings_kept():
    assert cfn_compat.drop_none_typed_values(HEAT_LIST) == (
        b"<ListStacksResponse><member><CreationTime>2026-11-22T01:27:03Z</CreationTime>"
        b"<StackName>None</StackName><OutputValue>None</OutputValue></member>"
        b"</ListStacksResponse>")


def _app(content_type: str, body: bytes):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", content_type),
                                  ("Content-Length", str(len(body)))])
        return [body]
    return app


def test_filter_fixes_xml_and_its_length():
    resp = webob.Request.blank("/").get_response(
        cfn_compat.NoneValueFilter(_app("application/xml", HEAT_LIST)))
    assert b"LastUpdatedTime" not in resp.body
    assert resp.headers["Content-Length"] == str(len(resp.body))


def test_filter_leaves_json_alone():
    body = b'{"x": "<LastUpdatedTime>None</LastUpdatedTime>"}'
    resp = webob.Request.blank("/").get_response(
        cfn_compat.NoneValueFilter(_app("application/json", body)))
    assert resp.body == body
