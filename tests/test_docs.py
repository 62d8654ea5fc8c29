"""Documentation check: every command in README.md and docs/*.md parses as written.

Commands are read from the ``bash`` blocks. Each ``python bin/...`` or ``python
benchmarks/...`` command is checked by defining the script's flags and parsing its
command line, as the script itself would (so a misspelt flag, a bad value, a missing
required flag, an unknown config variant or an unknown ``--config.<field>`` fails), but
without running it. ``python`` blocks must compile.
"""

import ast
import glob
import json
import os
import re
import shlex

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ['README.md'] + sorted(os.path.relpath(p, REPO)
                               for p in glob.glob(os.path.join(REPO, 'docs', '*.md')))
_BLOCK = re.compile(r'^```(\w*)\n(.*?)^```', re.S | re.M)


def blocks(language):
  """``(page, text)`` of every fenced block of ``language`` in the pages."""
  out = []
  for page in PAGES:
    with open(os.path.join(REPO, page)) as f:
      out.extend((page, m.group(2)) for m in _BLOCK.finditer(f.read())
                 if m.group(1) == language)
  return out


def commands():
  """``(page, argv)`` of every shell command (continuation lines joined, comments cut)."""
  out = []
  for page, text in blocks('bash'):
    for line in text.replace('\\\n', ' ').splitlines():
      argv = shlex.split(line, comments=True)
      if argv:
        out.append((page, argv))
  return out


def python_scripts():
  return [(page, argv[1], argv[2:]) for page, argv in commands()
          if argv[0] == 'python' and len(argv) > 1 and argv[1].endswith('.py')]


def test_the_pages_have_commands():
  scripts = {script for _, script, _ in python_scripts()}
  assert {'bin/train.py', 'bin/reproduce.py', 'bin/sweep.py'} <= scripts
  for _, script, _ in python_scripts():
    assert os.path.isfile(os.path.join(REPO, script)), script


def test_python_blocks_compile():
  for page, text in blocks('python'):
    ast.parse(text, filename=page)


def test_pytest_commands_use_registered_markers():
  with open(os.path.join(REPO, 'pytest.ini')) as f:
    registered = set(re.findall(r'^\s+(\w+):', f.read(), re.M))
  for page, argv in commands():
    if argv[0] == 'pytest' and '-m' in argv:
      words = set(re.findall(r'\w+', argv[argv.index('-m') + 1])) - {'not', 'and', 'or'}
      assert words <= registered, (page, argv)


# Run in a forked child (conftest.forked_binary): defines each script's flags in turn (absl's
# global registry), parses the documented command line, then removes them again. Its argument:
# a JSON file of [script, args] pairs.
_CHECK = r'''
import json, os, runpy, sys
from memrnn_tf import startup
startup.quiet_tensorflow()
from absl import flags
FLAGS = flags.FLAGS
base = set(FLAGS)
results = []
with open(sys.argv[1]) as f:
  todo = json.load(f)
for script, args in todo:
  sys.argv = [script] + args  # config overrides are read while the flags are defined
  try:
    runpy.run_path(script, run_name='memrnn_docs_check')
    FLAGS(sys.argv)
    error = None
  except SystemExit as e:
    error = f'exit {e.code}'
  except Exception as e:  # pylint: disable=broad-except
    error = f'{type(e).__name__}: {e}'
  results.append(error)
  FLAGS.unparse_flags()
  for name in [n for n in FLAGS if n not in base]:
    delattr(FLAGS, name)
print(json.dumps(results))
'''


@pytest.mark.slow
def test_every_documented_command_parses(tmp_path, forked_binary):
  todo = python_scripts()
  (tmp_path / 'todo.json').write_text(json.dumps([[s, a] for _, s, a in todo]))
  (tmp_path / 'check.py').write_text(_CHECK)
  code, out, err = forked_binary(str(tmp_path / 'check.py'), str(tmp_path / 'todo.json'))
  assert code == 0, err[-3000:]
  results = json.loads(out.strip().splitlines()[-1])
  failures = [f'{page}: python {script} {" ".join(args)}\n  {error}'
              for (page, script, args), error in zip(todo, results) if error]
  assert not failures, '\n'.join(failures)
