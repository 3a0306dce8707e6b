"""The subcommand declarations (postfix_tls/subcommands.py) and what comes
from them; the package's import graph."""

import ast
import os
import re

import pytest

from postfix_tls import cli, subcommands
from postfix_tls.subcommands import DECLARED, Subcommand

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(REPO, "postfix_tls")
ANSIBLE_MODULE = os.path.join(REPO, "ansible", "ansible_collections", "postfix_tls", "tls",
                              "plugins", "modules", "postfix_tls.py")
NAMES = [subcommand.name for subcommand in DECLARED]


def test_a_subcommand_without_usage_cannot_be_declared():
    with pytest.raises(ValueError, match="no usage message"):
        Subcommand("new-thing", "", "dane:prefetch", "dane:prefetch", our_synopsis="new-thing")
    with pytest.raises(ValueError, match="no usage message"):
        Subcommand("new-thing", "usage: postfix tls other-thing", "dane:prefetch",
                   "dane:prefetch", our_synopsis="new-thing")
    with pytest.raises(ValueError, match="no synopsis"):
        Subcommand("new-thing", "usage: postfix tls new-thing", "dane:prefetch",
                   "dane:prefetch")


def test_upstreams_nine_and_ours():
    assert subcommands.UPSTREAM == (
        "enable-client", "enable-server", "new-server-key", "new-server-cert",
        "deploy-server-cert", "output-server-csr", "output-server-tlsa",
        "all-default-client", "all-default-server")
    assert [name for name in NAMES if subcommands.find(name).ours] == [
        "output-server-tlsa-rollover", "check-server-tlsa", "deploy-acme-cert", "status"]
    assert len(set(NAMES)) == len(NAMES)


def test_help_lists_every_declared_synopsis_under_its_heading():
    text = cli.help_text()
    upstream_part = text.split("Subcommands, as")[1].split("\nOurs:\n")[0]
    ours_part = text.split("\nOurs:\n")[1].split("\nOptions:\n")[0]
    for subcommand in DECLARED:
        if subcommand.upstream_synopsis:
            assert "\n  %s\n" % subcommand.upstream_synopsis in upstream_part + "\n"
        if subcommand.our_synopsis:
            assert "  " + subcommand.our_synopsis in ours_part
            for line in subcommand.help_lines:
                assert line in ours_part


def _ansible_choices():
    with open(ANSIBLE_MODULE) as stream:
        text = stream.read()
    documented = re.search(r"  command:\n(?:    .*\n)*?    choices:\n((?:      - .*\n)+)", text)
    documented = [line.split("- ", 1)[1] for line in documented.group(1).splitlines()]
    spec = re.search(r"command=dict\([^)]*choices=\[([^\]]*)\]", text)
    in_spec = ast.literal_eval("[%s]" % spec.group(1))
    return documented, in_spec


def test_the_ansible_modules_choices_are_the_declared_subcommands():
    # The module runs on its own on each target: its lists are written out,
    # and must be the declarations', in their order.
    documented, in_spec = _ansible_choices()
    assert documented == NAMES
    assert in_spec == NAMES


# ----- imports

def _imports(path, module):
    """The package modules module imports, at the top or in a function,
    with importlib's "module:function" declarations counted too."""
    with open(path) as stream:
        source = stream.read()
    tree = ast.parse(source)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("postfix_tls"):
            parts = node.module.split(".")
            found.update([parts[1]] if len(parts) > 1 else [a.name for a in node.names])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("postfix_tls."):
                    found.add(alias.name.split(".")[1])
    if module == "subcommands":
        found.update(re.findall(r'"([a-z_]+):[a-z_]+"', source))
    modules = set(name[:-3] for name in os.listdir(PACKAGE) if name.endswith(".py"))
    return found & modules - {module}


def test_no_import_cycle_in_the_package():
    graph = dict((name[:-3], _imports(os.path.join(PACKAGE, name), name[:-3]))
                 for name in os.listdir(PACKAGE) if name.endswith(".py"))
    assert "upstream" in graph["subcommands"] and "status" in graph["subcommands"]

    def visit(module, path):
        for imported in sorted(graph[module]):
            assert imported not in path, "import cycle: " + " -> ".join(path + [imported])
            visit(imported, path + [imported])

    for module in sorted(graph):
        visit(module, [module])
