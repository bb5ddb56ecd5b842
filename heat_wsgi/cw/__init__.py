"""heat_wsgi's own CloudWatch-compatible API (Query protocol, 2010-08-01).

Heat removed heat-api-cloudwatch in 10.0.0; this package serves the same
API again, on heat_wsgi's own tables in the Heat database.

Modules, one job each:

* ``errors``    -- the AWS error codes, HTTP statuses and error exception
* ``query``     -- raw request -> flat parameters -> nested tree
* ``shapes``    -- declarative parameter shapes, decoded from the tree
* ``model``     -- typed values (alarms, datapoints, enums, limits)
* ``requests``  -- one typed, validated request per action
* ``stats``     -- statistics over datapoints, bucketed by period
* ``evaluate``  -- pure alarm evaluation: datapoints -> new state
* ``xmlout``    -- XML responses and error documents
* ``schema``    -- the SQL tables
* ``store``     -- every SQL statement, one transaction per call
* ``notify``    -- POSTing alarm actions (Heat signal URLs)
* ``service``   -- the actions: request -> store/evaluate/notify -> result
* ``app``       -- the WSGI application and its paste factory
* ``fault``     -- paste filter turning any failure into an AWS error
* ``config``    -- the ``[heat_wsgi_cloudwatch]`` oslo.config options
"""
