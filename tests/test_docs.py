"""The README and the docs pages stay true to the tools: every documented command line goes through
its tool's own parser (and its check of flag combinations), every flag named in the prose exists,
every relative link and image path resolves, and the README stays short with every tool in its
table. Nothing here imports TensorFlow."""
import argparse
import glob
import importlib
import os
import re
import shlex

import pytest

from fcn_tf1.ground.formats import FORMATS, readable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "checkpoints", "README.md")] + sorted(
    glob.glob(os.path.join(ROOT, "docs", "*.md")))
TOOLS = ("train", "evaluate", "export", "predict", "weights", "data", "compare", "bench")
COMMAND = re.compile(r"(?:python -m fcn_tf1\.|\./dev\.sh )(%s)\b(.*)" % "|".join(TOOLS))
SHELL_END = re.compile(r"\s(?:#|\||&&|;|>|2>)")  # a comment or what the shell does after the tool


def _module(tool):
    return importlib.import_module("fcn_tf1.data.__main__" if tool == "data" else "fcn_tf1." + tool)


def _blocks(text):
    """(line number, command line) of every line of the page's code blocks, continuations
    joined."""
    in_block, pending, start = False, "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_block, pending = not in_block, ""
            continue
        if not in_block:
            continue
        start = start if pending else number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield start, pending + line
        pending = ""


def documented_commands():
    """(page:line, tool, argument list) of every command line in a code block."""
    found = []
    for page in PAGES:
        with open(page) as f:
            text = f.read()
        for number, line in _blocks(text):
            match = COMMAND.search(line)
            if match:
                rest = SHELL_END.split(" " + match.group(2), 1)[0]
                where = "%s:%d" % (os.path.relpath(page, ROOT), number)
                found.append((where, match.group(1), shlex.split(rest)))
    return found


def _check(tool, args):
    """The tool's parser and its check of combinations on ``args``; SystemExit(2) on a refusal."""
    module = _module(tool)
    p = module.parser()
    parsed = p.parse_args(args)
    check = {"export": getattr(module, "check", None), "weights": getattr(module, "check", None),
             "data": getattr(module, "check_args", None)}.get(tool)
    if check:
        check(p, parsed)


def test_every_documented_command_line_parses(capsys):
    commands = documented_commands()
    assert len(commands) > 40 and {tool for _, tool, _ in commands} == set(TOOLS)
    refused = []
    for where, tool, args in commands:
        if args in ([], ["ARGS"]) and tool in ("train", "test"):
            continue
        try:
            _check(tool, args)
        except SystemExit as stop:
            if stop.code:
                refused.append("%s: %s %s: %s" % (where, tool, " ".join(args),
                                                  capsys.readouterr().err.strip()))
    assert not refused, "\n".join(refused)


def _options(parser):
    """Every option string of ``parser`` and of its subcommands."""
    options = set(parser._option_string_actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                options |= _options(sub)
    return options


def test_every_flag_named_beside_a_tool_in_the_prose_exists():
    unknown = []
    for page in PAGES:
        with open(page) as f:
            text = re.sub(r"```.*?```", "", f.read(), flags=re.S)  # the blocks are parsed above
        for span in re.findall(r"`([^`]+)`", text):
            match = COMMAND.search(span)
            if not match:
                continue
            options = _options(_module(match.group(1)).parser())
            unknown += ["%s: `%s`: %s" % (os.path.relpath(page, ROOT), span, flag)
                        for flag in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", match.group(2))
                        if flag not in options]
    assert not unknown, "\n".join(unknown)


def test_every_relative_link_and_image_resolves():
    broken = []
    for page in PAGES:
        with open(page) as f:
            text = f.read()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = os.path.join(os.path.dirname(page), target.split("#")[0])
            if not os.path.exists(path):
                broken.append("%s: %s" % (os.path.relpath(page, ROOT), target))
    assert not broken, "\n".join(broken)


def test_the_readme_is_short_and_its_table_has_every_tool():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    assert len(text.splitlines()) <= 200
    rows = re.findall(r"^\| `python -m fcn_tf1\.(\w+)`", text, re.M)
    assert sorted(rows) == sorted(TOOLS)
    # Every docs page is linked from the README.
    for page in glob.glob(os.path.join(ROOT, "docs", "*.md")):
        assert "(docs/%s)" % os.path.basename(page) in text, page


def test_the_formats_table_of_the_deployment_page_is_the_registrys():
    with open(os.path.join(ROOT, "docs", "deployment.md")) as f:
        text = f.read()
    rows = re.findall(r"^\| `(--[\w-]+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \|", text, re.M)
    assert [(flag, what.strip(), runtimes.strip(), client.strip())
            for flag, what, runtimes, client in rows] == [
        (fmt.flag, fmt.what, ", ".join(fmt.runtimes) or "-", fmt.client)
        for fmt in FORMATS.values()]
    assert len(readable()) < len(FORMATS)  # some formats are for clients of their own


@pytest.mark.parametrize("tool", TOOLS)
def test_every_tool_has_a_section_in_the_commands_page(tool):
    with open(os.path.join(ROOT, "docs", "commands.md")) as f:
        assert "python -m fcn_tf1.%s" % tool in f.read()
