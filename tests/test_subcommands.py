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
        "output-server-tlsa-rollover", "check-server-tlsa", "publish-server-tlsa",
        "deploy-acme-cert", "remove-sni-name", "status"]
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

def _modules():
    """{dotted name under postfix_tls: path}, packages by their __init__."""
    modules = {}
    for parent, folders, names in os.walk(PACKAGE):
        folders[:] = [name for name in folders if name != "__pycache__"]
        for name in names:
            if name.endswith(".py"):
                relative = os.path.relpath(os.path.join(parent, name), PACKAGE)[:-3]
                dotted = relative.replace(os.sep, ".")
                if dotted.endswith("__init__"):
                    dotted = dotted[:-len("__init__")].rstrip(".") or "postfix_tls"
                modules[dotted] = os.path.join(parent, name)
    return modules


def _imports(path, module, modules):
    """The package modules module imports, at the top or in a function,
    with importlib's "module:function" declarations counted too."""
    with open(path) as stream:
        source = stream.read()
    found = set()

    def add(dotted, names=()):
        # "from postfix_tls.core import messages": a module of the package,
        # else names of the package's __init__.
        children = [dotted + "." + name if dotted else name for name in names]
        inner = [child for child in children if child in modules]
        found.update(inner or [dotted or "postfix_tls"])

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, "%s: a relative import" % module
            if node.module == "postfix_tls" or (node.module or "").startswith("postfix_tls."):
                add(node.module[len("postfix_tls."):], [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("postfix_tls."):
                    add(alias.name[len("postfix_tls."):])
    if module == "subcommands":
        found.update(re.findall(r'"([a-z_.]+):[a-z_]+",', source))  # declarations
    unknown = found - set(modules)
    assert not unknown, "%s imports what is not a module: %s" % (module, sorted(unknown))
    return found - {module}


def test_no_import_cycle_in_the_package():
    modules = _modules()
    graph = dict((name, _imports(path, name, modules)) for name, path in modules.items())
    assert {"upstream.commands", "status.command", "acme.deploy", "dane.check"} <= graph[
        "subcommands"]
    assert "core.messages.common" in graph["core.messages"]

    def visit(module, path):
        for imported in sorted(graph[module]):
            assert imported not in path, "import cycle: " + " -> ".join(path + [imported])
            visit(imported, path + [imported])

    for module in sorted(graph):
        visit(module, [module])


def test_the_shared_core_imports_nothing_of_the_capabilities():
    """core/ is what everything else is built from, never the other way."""
    modules = _modules()
    for name, path in modules.items():
        if name.startswith("core."):
            outside = [imported for imported in _imports(path, name, modules)
                       if not imported.startswith("core.")]
            assert not outside, "%s imports %s" % (name, outside)


def test_no_module_is_over_400_lines():
    """A module holds one thing; a second thing is a sibling module."""
    for name, path in sorted(_modules().items()):
        with open(path) as stream:
            lines = len(stream.readlines())
        assert lines <= 400, "%s has %d lines" % (name, lines)
