"""Stand-in for pip's get-pip.py, which ansible-test downloads from a host
outside the package registries (unreachable here, and in CI): it runs
"pip install ARGS" from the pip wheel saved beside it (make test-ansible
saves both in ~/.ansible/test/cache, never over a real get-pip.py).
"""

import glob
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
wheel = sorted(glob.glob(os.path.join(here, "pip-*.whl")))[-1]
sys.path.insert(0, wheel)

from pip._internal.cli.main import main  # noqa: E402

# get-pip's own options, not pip's:
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install"] + args))
