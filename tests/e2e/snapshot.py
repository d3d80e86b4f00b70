"""Print what the given paths hold, as JSON: {path: [kind, sha256 or link target]}.

Runs on the master (python3 only, no imports beyond the standard library):
prepare records the user's files before the collection arrives, and the
tests compare against that record after converge and after removal.
"""

import hashlib
import json
import os
import sys


def describe(path: str) -> list:
    if os.path.islink(path):
        return ["link", os.readlink(path)]
    if os.path.isfile(path):
        with open(path, "rb") as handle:
            return ["file", hashlib.sha256(handle.read()).hexdigest()]
    if os.path.isdir(path):
        return ["dir", None]
    return ["absent", None]


if __name__ == "__main__":
    print(json.dumps({path: describe(path) for path in sys.argv[1:]}, sort_keys=True))
