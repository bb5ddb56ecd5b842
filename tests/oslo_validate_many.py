"""Validate many config files against one release's options, in one process.

Run by a *release venv's* python (it imports only the stdlib and that venv's
oslo.config), as ``python oslo_validate_many.py GENERATOR_CONF FILE...``.

``oslo-config-validator --config-file GENERATOR_CONF`` imports every option
namespace of the release (seconds of CPU) for the one ``--input-file`` it
takes. This script goes through the two tools' own entry points instead:
``oslo-config-generator --format yaml`` once, writing the machine-readable
option data, then ``oslo-config-validator --opt-data`` (the validator's
documented alternative to ``--namespace``) once per file, in-process. The
validator's messages go to stderr under a ``== FILE`` header, as the CLI
prints them; stdout gets one ``RESULT <exit status> FILE`` line per file.
The exit status is 1 if any file failed.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

import yaml
from oslo_config import generator, validator


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: oslo_validate_many.py GENERATOR_CONF FILE...", file=sys.stderr)
        return 2
    gen, files = argv[0], argv[1:]
    # The validator CLI logs at INFO (its "ignoring" notes); the generator's
    # main() would set WARNING first, and only the first basicConfig counts.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    failed = False
    with tempfile.TemporaryDirectory(prefix="oslo-validate-") as tmp:
        opt_data = str(Path(tmp) / "opts.yaml")
        generator.main(["--config-file", gen, "--format", "yaml", "--output-file", opt_data])
        # The validator re-reads --opt-data with pure-Python yaml.safe_load
        # each time (~1.4 s of CPU for Heat's options): read it once (libyaml
        # when there) and hand the same data to every run. Only the loading
        # is replaced; the checks are the validator's own _validate.
        with open(opt_data) as f:
            data = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        validator.load_opt_data = lambda conf: data
        for path in files:
            print(f"== {path}", file=sys.stderr, flush=True)
            # validator.main() parses sys.argv[1:], exactly as the console script does.
            sys.argv = ["oslo-config-validator", "--opt-data", opt_data, "--input-file", path]
            status = validator.main()
            failed = failed or status != 0
            sys.stderr.flush()
            print(f"RESULT {status} {path}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
