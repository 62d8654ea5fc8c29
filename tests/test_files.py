"""memrnn_tf.files: atomic writes, the JSON encoder, optional reads, the result cache."""

import json
import os

import numpy as np
import pytest

from memrnn_tf import files


def test_atomic_write_leaves_the_old_file_on_failure(tmp_path):
  path = str(tmp_path / 'sub' / 'a.txt')
  files.write_text(path, 'old')
  with pytest.raises(RuntimeError):
    with files.atomic_write(path) as f:
      f.write('half')
      raise RuntimeError('killed')
  assert open(path).read() == 'old'
  assert os.listdir(tmp_path / 'sub') == ['a.txt']  # no temporary file left


def test_json_numpy_values_and_nan(tmp_path):
  obj = {'b': np.float32(0.5), 'a': (np.int64(3), np.arange(2)), 'c': [float('nan')]}
  path = files.write_json(str(tmp_path / 'x.json'), obj, indent=None, sort_keys=True)
  assert open(path).read() == '{"a": [3, [0, 1]], "b": 0.5, "c": [NaN]}'
  files.write_json(path, obj, indent=None, nan_as_null=True)
  assert open(path).read() == '{"b": 0.5, "a": [3, [0, 1]], "c": [null]}'
  with pytest.raises(TypeError):
    files.dumps({'x': object()})


def test_read_json_and_npz_are_none_when_absent_or_unreadable(tmp_path):
  assert files.read_json(str(tmp_path / 'none.json')) is None
  (tmp_path / 'bad.json').write_text('{"a": ')
  assert files.read_json(str(tmp_path / 'bad.json')) is None
  assert files.read_npz(str(tmp_path / 'none.npz')) is None
  files.write_npz(str(tmp_path / 'a.npz'), compressed=True, x=np.arange(3))
  np.testing.assert_array_equal(files.read_npz(str(tmp_path / 'a.npz'))['x'], [0, 1, 2])


def test_load_if_matches(tmp_path):
  path = str(tmp_path / 'r.json')
  assert files.load_if_matches(path, {'a': 1}) is None
  with open(path, 'w') as f:
    json.dump({'a': 1, 'delays': [1, 2, 3], 'lr': 0.1}, f)
  assert files.load_if_matches(path, {'a': 1, 'lr': 0.1 + 1e-12})['a'] == 1
  assert files.load_if_matches(path, {'a': 2}) is None
  assert files.load_if_matches(path, {'delays': (1, 2, 3)}) is not None
  assert files.load_if_matches(path, {'delays': lambda d: set(d) >= {2, 3}}) is not None
  assert files.load_if_matches(path, {'delays': lambda d: 4 in d}) is None
  assert files.load_if_matches(path, {'seed': 0}) is None
  assert files.load_if_matches(path, {'seed': 0}, defaults={'seed': 0}) is not None


def test_load_module(tmp_path):
  (tmp_path / 'cfg.py').write_text('def get_config(v):\n  return v * 2\n')
  assert files.load_module(str(tmp_path / 'cfg.py'), 'some_cfg').get_config(2) == 4
