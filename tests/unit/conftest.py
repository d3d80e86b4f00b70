import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The checkout resolves as the collection through collections/ (see ansible.cfg).
sys.path.insert(0, str(ROOT / "collections"))
