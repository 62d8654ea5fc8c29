"""The repository stands alone: no tracked text names a path or file outside it."""

import os
import re
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Paths and files of the machines the package was built on, which a user's clone lacks.
# (This file is the one place that names them, and is not scanned.)
OUTSIDE = re.compile(r'/work/|\.\./shared|ORIGINAL_CODE_FACTS|DESIGN\.md|TF_NOTES|papers/\d')


def tracked_text_files():
  """Tracked files (``git ls-files``; every file under the root without git) that are text."""
  try:
    names = subprocess.run(['git', 'ls-files'], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.splitlines()
  except (OSError, subprocess.CalledProcessError):
    names = [os.path.relpath(os.path.join(d, f), REPO) for d, dirs, files in os.walk(REPO)
             for f in files if not any(p.startswith('.') or p in ('runs', '__pycache__')
                                       for p in os.path.relpath(d, REPO).split(os.sep)
                                       if p != '.')]
  out = {}
  for name in names:
    try:
      with open(os.path.join(REPO, name), encoding='utf-8') as f:
        out[name] = f.read()
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
      continue  # binary, or deleted in the working tree
  return out


def test_no_text_names_a_path_outside_the_repository():
  this = os.path.relpath(os.path.abspath(__file__), REPO)
  texts = tracked_text_files()
  assert 'README.md' in texts and 'BUILD_NOTES.md' in texts
  hits = [f'{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}'
          for name, text in texts.items() if name != this for m in OUTSIDE.finditer(text)]
  assert not hits, 'references outside the repository:\n' + '\n'.join(hits)


def test_the_pattern_catches_what_it_should():
  for text in ('see /work/main/runs', 'in ../shared/data', 'ORIGINAL_CODE_FACTS.md says',
               'DESIGN.md', 'TF_NOTES.md', 'papers/003 Fig. 2'):
    assert OUTSIDE.search(text), text
  for text in ('docs/protocol.md', '003 Fig. 2', 'runs/shared_x', 'the design'):
    assert not OUTSIDE.search(text), text
