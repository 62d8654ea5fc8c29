"""The published reproductions (``results/<variant>/``) and README's verdict table agree.

README states a verdict only as ``claim N **verdict**`` in the table row that links the
variant's report; every decided claim of the report (any verdict but *inconclusive*) must
appear there with the report's verdict, and no other verdict may.
"""

import glob
import json
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIANTS = sorted(os.path.basename(os.path.dirname(p))
                  for p in glob.glob(os.path.join(REPO, 'results', '*', 'report.json')))
VERDICTS = ('reproduces', 'contradicted', 'not observed', 'inconclusive')
_STATED = re.compile(r'claims? (\d+) \*\*(' + '|'.join(VERDICTS) + r')\*\*')
# What a published reproduction must never hold: weights, checkpoints, saved models.
_WEIGHTS = re.compile(r'\.(keras|h5|index|pb|npz)$|\.data-\d{5}-of-\d{5}$|^ckpt')


def readme():
  with open(os.path.join(REPO, 'README.md')) as f:
    return f.read()


def stated_verdicts(text, variant):
  """``{claim: verdict}`` stated in README's table row that links ``variant``'s report."""
  link = f'results/{variant}/report.md'
  rows = [line for line in text.splitlines() if line.startswith('|') and link in line]
  assert len(rows) == 1, f'README needs exactly one table row linking {link}, has {len(rows)}'
  return {key: verdict for key, verdict in _STATED.findall(rows[0])}


def decided_verdicts(variant):
  with open(os.path.join(REPO, 'results', variant, 'report.json')) as f:
    claims = json.load(f)
  return {c['key']: c['verdict'] for c in claims if c['verdict'] != 'inconclusive'}


def test_there_is_a_published_reproduction():
  assert VARIANTS


@pytest.mark.parametrize('variant', VARIANTS)
def test_readme_states_the_reports_verdicts(variant):
  assert stated_verdicts(readme(), variant) == decided_verdicts(variant)


@pytest.mark.parametrize('variant', VARIANTS)
def test_a_published_reproduction_has_its_files_and_no_weights(variant):
  root = os.path.join(REPO, 'results', variant)
  for name in ('report.md', 'report.json', 'runs.json'):
    assert os.path.isfile(os.path.join(root, name)), name
  weights = [os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root)
             for f in files if _WEIGHTS.search(f)]
  assert not weights, weights


def test_the_row_parser_reads_what_readme_writes():
  text = ('| a | [r](results/x/report.md) | claim 13 **contradicted**: why; claims 3 '
          '**reproduces** |\n| b | results/y/report.md | claim 1 **not observed** |')
  assert stated_verdicts(text, 'x') == {'13': 'contradicted', '3': 'reproduces'}
  assert stated_verdicts(text, 'y') == {'1': 'not observed'}
  with pytest.raises(AssertionError):
    stated_verdicts(text, 'z')
