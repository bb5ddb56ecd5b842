"""botocore's own CloudWatch client, switched to the Query protocol.

botocore's current CloudWatch model prefers a CBOR/JSON protocol that
heat_wsgi does not speak, but the same model still describes the Query
protocol (``protocols`` lists it, and every output keeps its
``resultWrapper``). This writes a copy of botocore's model with
``protocol = query`` into a private data path and builds a normal
botocore client from it, so requests, signing, parsing and errors are
all botocore's own.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


def write_query_model(data_dir: Path) -> Path:
    """Write the patched ``cloudwatch/2010-08-01/service-2.json`` under
    ``data_dir``; returns the file written."""
    import botocore.session
    loader = botocore.session.get_session().get_component("data_loader")
    model = loader.load_service_model("cloudwatch", "service-2")
    metadata = dict(model["metadata"])
    metadata["protocol"] = "query"
    metadata["protocols"] = ["query"]
    # JSON-protocol routing keys; meaningless (and unused) under Query.
    for key in ("jsonVersion", "targetPrefix", "awsQueryCompatible"):
        metadata.pop(key, None)
    model = dict(model, metadata=metadata)
    target = data_dir / "cloudwatch" / str(metadata["apiVersion"]) / "service-2.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    # Atomic: clients built in parallel threads may read it meanwhile.
    scratch = target.with_name(f".service-2.{os.getpid()}.{threading.get_ident()}.json")
    scratch.write_text(json.dumps(model))
    os.replace(scratch, target)
    return target


def query_client(endpoint_url: str, data_dir: Path, *, access_key: str = "heat",
                 secret_key: str = "heat", region: str = "RegionOne", **config: Any) -> Any:
    """A botocore CloudWatch client that speaks Query to ``endpoint_url``."""
    import botocore.config
    import botocore.session
    write_query_model(data_dir)
    session = botocore.session.get_session()
    # Our directory first, so its service-2.json shadows botocore's.
    session.get_component("data_loader").search_paths.insert(0, str(data_dir))
    return session.create_client(
        "cloudwatch", region_name=region, endpoint_url=endpoint_url,
        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        config=botocore.config.Config(retries={"max_attempts": 1}, **config))
