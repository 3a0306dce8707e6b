"""Print the pip version ansible-test bootstraps its virtualenvs with (its
get-pip.py is fetched for that version; run.sh puts a stand-in there).

ansible-test keeps it in _internal/python_requirements.py, as pip=VERSION.
"""

import os
import re

import ansible_test

path = os.path.join(os.path.dirname(ansible_test.__file__), "_internal",
                    "python_requirements.py")
with open(path) as stream:
    print(re.search(r"pip=.([0-9.]+).", stream.read()).group(1))
