"""Tests of memrnn_tf.data.sources: local files, the Keras cache, errors; never the network."""

import importlib.util
import os
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest

from memrnn_tf.data import sources

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(name='shared')
def fixture_shared(data_dir):
  return data_dir


@pytest.fixture(name='keras_home')
def fixture_keras_home(tmp_path, monkeypatch):
  """No data dir, an empty Keras cache under tmp_path, downloads off."""
  home = tmp_path / 'keras_home'
  (home / 'datasets').mkdir(parents=True)
  monkeypatch.setenv('KERAS_HOME', str(home))
  monkeypatch.setenv(sources.NO_DOWNLOAD_ENV, '1')
  monkeypatch.delenv(sources.DATA_DIR_ENV, raising=False)

  def no_network(*args, **kwargs):
    raise AssertionError('tests must not touch the network')

  monkeypatch.setattr(sources, '_network_reachable', no_network)
  monkeypatch.setattr(sources, '_download', no_network)
  return home


def _write_batch(path, data, labels):
  with open(path, 'wb') as f:
    pickle.dump({b'batch_label': b'x', b'labels': list(labels), b'data': data,
                 b'filenames': [b'f'] * len(labels)}, f)


def _fake_cifar_folder(root, per_batch=3, test_size=2):
  """A ``cifar-10-batches-py`` folder with known pixels; returns (folder, train rows, test rows)."""
  folder = root / 'cifar-10-batches-py'
  folder.mkdir(parents=True)
  rng = np.random.default_rng(0)
  train_x, train_y = [], []
  for i in range(1, 6):
    data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
    labels = [(i + j) % 10 for j in range(per_batch)]
    _write_batch(folder / f'data_batch_{i}', data, labels)
    train_x.append(data)
    train_y += labels
  test_x = rng.integers(0, 256, (test_size, 3072), dtype=np.uint8)
  # One distinctive pixel: image 1, channel 2 (blue), row 5, column 7.
  test_x[1] = 0
  test_x[1, 2 * 1024 + 5 * 32 + 7] = 200
  _write_batch(folder / 'test_batch', test_x, [3, 9])
  return folder, (np.concatenate(train_x), np.array(train_y)), (test_x, np.array([3, 9]))


def test_mnist_train_from_data_dir(shared, keras_home):
  del keras_home
  data = sources.load_dataset('mnist', 'train', shared)
  assert data.images.shape == (60000, 28, 28, 1)
  assert data.images.dtype == np.uint8
  assert data.labels.shape == (60000,) and data.labels.dtype == np.int64
  assert np.bincount(data.labels).tolist() == MNIST_TRAIN_COUNTS
  assert data.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
  assert (data.name, data.split, data.num_classes) == ('mnist', 'train', 10)
  assert data.source == os.path.join(shared, 'mnist.npz')
  assert (data.mean, data.std) == (0.1307, 0.30816)
  assert data.image_shape == (28, 28, 1) and data.num_pixels == 784
  with np.load(os.path.join(shared, 'mnist.npz')) as d:
    np.testing.assert_array_equal(data.images[..., 0], d['x_train'])
  floats = data.float_images()
  assert floats.dtype == np.float32 and floats.shape == (60000, 28, 28, 1)
  assert floats.min() == 0.0 and floats.max() == 1.0
  # The task's noise mean/std are the dataset's pixel statistics.
  assert abs(floats.mean() - 0.1307) < 1e-3 and abs(floats.std() - 0.3081) < 1e-3
  assert not data.images.flags.writeable and not data.labels.flags.writeable


def test_mnist_test_split_and_load_images(shared, keras_home):
  del keras_home
  data = sources.load_dataset('mnist', 'test', shared)
  assert data.images.shape == (10000, 28, 28, 1)
  assert np.bincount(data.labels).tolist() == MNIST_TEST_COUNTS
  images, labels = sources.load_images('mnist', 'test', shared)
  assert images.dtype == np.float32 and images.shape == (10000, 28, 28, 1)
  assert 0.0 <= images.min() and images.max() <= 1.0
  assert labels.dtype == np.int64 and labels[:5].tolist() == [7, 2, 1, 0, 4]
  np.testing.assert_allclose(images[3, 10, 14, 0], data.images[3, 10, 14, 0] / 255.0)


def test_repeated_loads_are_cached(shared, keras_home):
  del keras_home
  a = sources.load_dataset('mnist', 'test', shared)
  t = time.perf_counter()
  b = sources.load_dataset('mnist', 'test', shared)
  assert time.perf_counter() - t < 0.05
  assert a.images is b.images and a.labels is b.labels


def test_cifar10_subset(shared, keras_home, caplog):
  del keras_home
  sources.clear_cache()
  with caplog.at_level('WARNING'):
    train = sources.load_dataset('cifar10', 'train', shared)
  assert 'subset' in caplog.text and '5085' in caplog.text
  test = sources.load_dataset('cifar10', 'test', shared)
  assert train.images.shape == (5085, 32, 32, 3) and test.images.shape == (1017, 32, 32, 3)
  assert train.images.dtype == np.uint8 and train.labels.dtype == np.int64
  assert train.image_shape == (32, 32, 3) and train.num_pixels == 3072
  assert (train.mean, train.std) == (0.4734, 0.2517)
  assert train.source == os.path.join(shared, 'cifar10_subset.npz')
  # First image of data_batch_1: red channel of the top row starts 59, 43, 50 (frog).
  assert train.images[0, 0, :3, 0].tolist() == [59, 43, 50]
  assert train.labels[:3].tolist() == [6, 9, 9]
  assert np.bincount(test.labels, minlength=10).tolist() == [105, 93, 100, 104, 92, 87, 114,
                                                             102, 110, 110]


def test_env_var_data_dir(shared, keras_home, monkeypatch):
  del keras_home
  monkeypatch.setenv(sources.DATA_DIR_ENV, shared)
  assert sources.resolve_data_dir(None) == shared
  data = sources.load_dataset('mnist', 'test')
  assert data.source == os.path.join(shared, 'mnist.npz')
  assert data.images.shape == (10000, 28, 28, 1)


def test_explicit_dir_beats_env_var(shared, keras_home, tmp_path, monkeypatch):
  del keras_home
  empty = tmp_path / 'empty'
  empty.mkdir()
  monkeypatch.setenv(sources.DATA_DIR_ENV, str(empty))
  assert sources.resolve_data_dir(shared) == shared
  assert sources.resolve_data_dir('') == str(empty)
  assert sources.load_dataset('mnist', 'test', shared).images.shape[0] == 10000
  # And the other way round: a good env var does not rescue a bad explicit directory.
  monkeypatch.setenv(sources.DATA_DIR_ENV, shared)
  with pytest.raises(sources.DataNotFoundError) as e:
    sources.load_dataset('mnist', 'test', str(empty))
  assert f'mnist.npz in {empty} (from --data_dir)' in str(e.value)


def test_data_dir_flag_beats_the_runs_directory_and_env_var_and_reaches_children(
    shared, keras_home, tmp_path, monkeypatch):
  """--data_dir (set_data_dir, as parse_flags calls it) > config.data_dir > $MEMRNN_DATA_DIR."""
  del keras_home
  empty = tmp_path / 'empty'
  empty.mkdir()
  monkeypatch.setattr(sources, '_flag_data_dir', None)
  monkeypatch.setenv(sources.DATA_DIR_ENV, str(empty))
  sources.set_data_dir('')  # the flag not given: nothing changes
  assert sources.resolve_data_dir(None) == str(empty)
  sources.set_data_dir(shared)
  assert sources.resolve_data_dir(str(empty)) == shared
  assert os.environ[sources.DATA_DIR_ENV] == shared  # commands started from here
  assert sources.load_dataset('mnist', 'test', str(empty)).source == os.path.join(shared,
                                                                                 'mnist.npz')
  sources.set_data_dir(str(empty))
  with pytest.raises(sources.DataNotFoundError) as e:
    sources.load_dataset('mnist', 'test', shared)
  assert f'mnist.npz in {empty} (from --data_dir)' in str(e.value)


def test_empty_data_dir_is_an_error(keras_home, tmp_path, monkeypatch):
  del keras_home
  monkeypatch.setenv(sources.DATA_DIR_ENV, str(tmp_path))
  with pytest.raises(sources.DataNotFoundError) as e:
    sources.load_dataset('mnist', 'train')
  msg = str(e.value)
  assert isinstance(e.value, FileNotFoundError)
  assert '\n' not in msg
  assert f'looked for mnist.npz in {tmp_path} (from $MEMRNN_DATA_DIR)' in msg
  with pytest.raises(sources.DataNotFoundError) as e:
    sources.load_dataset('cifar10', 'test')
  assert 'cifar-10-batches-py/' in str(e.value) and 'cifar10_subset.npz' in str(e.value)
  with pytest.raises(sources.DataNotFoundError, match='no such directory'):
    sources.load_dataset('mnist', 'train', str(tmp_path / 'missing'))


def test_nothing_anywhere_without_download(keras_home):
  t = time.perf_counter()
  with pytest.raises(sources.DataNotFoundError) as e:
    sources.load_dataset('mnist', 'test')
  assert time.perf_counter() - t < 1.0
  msg = str(e.value)
  assert '\n' not in msg
  assert str(keras_home / 'datasets') in msg and 'MEMRNN_NO_DOWNLOAD=1' in msg
  assert 'MEMRNN_DATA_DIR' in msg and 'mnist.npz' in msg


def test_download_only_when_network_reachable(keras_home, monkeypatch):
  del keras_home
  monkeypatch.delenv(sources.NO_DOWNLOAD_ENV)
  monkeypatch.setattr(sources, '_network_reachable', lambda: False)
  with pytest.raises(sources.DataNotFoundError, match='unreachable'):
    sources.load_dataset('cifar10', 'train')
  # Reachable: keras.datasets is called (stubbed here), labels [N, 1] as Keras returns them.
  calls = []

  def fake_download(name, split):
    calls.append((name, split))
    return np.full((4, 32, 32, 3), 7, np.uint8), np.array([[1], [2], [3], [4]], np.uint8)

  monkeypatch.setattr(sources, '_network_reachable', lambda: True)
  monkeypatch.setattr(sources, '_download', fake_download)
  sources.clear_cache()
  data = sources.load_dataset('cifar10', 'test')
  assert calls == [('cifar10', 'test')]
  assert data.source == 'keras-download'
  assert data.labels.tolist() == [1, 2, 3, 4] and data.images.shape == (4, 32, 32, 3)
  sources.clear_cache()


def test_fake_cifar_batches_folder_nhwc(keras_home, tmp_path, shared):
  del keras_home
  folder, (train_x, train_y), (test_x, test_y) = _fake_cifar_folder(tmp_path)
  # The folder is preferred over a subset file next to it.
  os.symlink(os.path.join(shared, 'cifar10_subset.npz'), tmp_path / 'cifar10_subset.npz')
  test = sources.load_dataset('cifar10', 'test', str(tmp_path))
  assert test.source == str(folder)
  assert test.images.shape == (2, 32, 32, 3) and test.labels.tolist() == test_y.tolist()
  assert test.images[1, 5, 7, 2] == 200
  assert test.images[1].sum() == 200  # the only nonzero value
  assert test.images[1, 7, 5, 2] == 0 and test.images[1, 5, 7, 0] == 0
  train = sources.load_dataset('cifar10', 'train', str(tmp_path))
  assert train.images.shape == (15, 32, 32, 3)
  assert train.labels.tolist() == train_y.tolist()
  # Pixel [h, w, c] of image n is byte c * 1024 + h * 32 + w of its row.
  for n, h, w, c in ((0, 0, 0, 0), (4, 31, 2, 1), (14, 17, 30, 2)):
    assert train.images[n, h, w, c] == train_x[n, c * 1024 + h * 32 + w]


@pytest.mark.parametrize('sub', ['cifar-10-batches-py-target', ''])
def test_cifar_folder_in_keras_cache(keras_home, sub):
  _, _, (test_x, _) = _fake_cifar_folder(keras_home / 'datasets' / sub)
  data = sources.load_dataset('cifar10', 'test')
  assert data.source == os.path.join(str(keras_home), 'datasets', sub, 'cifar-10-batches-py')
  assert data.images[0, 3, 4, 1] == test_x[0, 1024 + 3 * 32 + 4]


def test_keras_cache_mnist(keras_home, shared):
  target = keras_home / 'datasets' / 'mnist.npz'
  os.symlink(os.path.join(shared, 'mnist.npz'), target)
  data = sources.load_dataset('mnist', 'test')
  assert data.source == str(target)
  assert np.bincount(data.labels).tolist() == MNIST_TEST_COUNTS


def test_unknown_name_or_split(keras_home, shared):
  del keras_home
  with pytest.raises(ValueError, match="unknown dataset 'fashion_mnist'.*mnist, cifar10"):
    sources.load_dataset('fashion_mnist', 'train', shared)
  with pytest.raises(ValueError, match="unknown split 'validation'.*train, test"):
    sources.load_dataset('mnist', 'validation', shared)
  with pytest.raises(ValueError, match='unknown dataset'):
    sources.image_shape('svhn')
  assert sources.image_shape('cifar10') == (32, 32, 3)
  assert sources.image_shape('mnist') == (28, 28, 1)


def test_malformed_files_name_the_file(keras_home, tmp_path, shared):
  del keras_home
  bad = tmp_path / 'garbage'
  bad.mkdir()
  (bad / 'mnist.npz').write_bytes(b'not a zip file at all' * 10)
  with pytest.raises(ValueError, match='garbage/mnist.npz'):
    sources.load_dataset('mnist', 'train', str(bad))

  cut = tmp_path / 'truncated'
  cut.mkdir()
  with open(os.path.join(shared, 'mnist.npz'), 'rb') as f:
    (cut / 'mnist.npz').write_bytes(f.read(100000))
  with pytest.raises(ValueError, match='truncated/mnist.npz'):
    sources.load_dataset('mnist', 'test', str(cut))

  keys = tmp_path / 'keys'
  keys.mkdir()
  np.savez(keys / 'mnist.npz', x_train=np.zeros((2, 28, 28), np.uint8))
  with pytest.raises(ValueError, match='keys/mnist.npz'):
    sources.load_dataset('mnist', 'test', str(keys))

  shape = tmp_path / 'shape'
  shape.mkdir()
  np.savez(shape / 'mnist.npz', x_test=np.zeros((2, 27, 28), np.uint8),
           y_test=np.zeros(2, np.uint8))
  with pytest.raises(ValueError, match='shape/mnist.npz.*28, 28, 1'):
    sources.load_dataset('mnist', 'test', str(shape))

  labels = tmp_path / 'labels'
  labels.mkdir()
  np.savez(labels / 'mnist.npz', x_test=np.zeros((2, 28, 28), np.uint8), y_test=np.array([1, 10]))
  with pytest.raises(ValueError, match=r'labels/mnist.npz: labels must be in \[0, 10\)'):
    sources.load_dataset('mnist', 'test', str(labels))

  folder, _, _ = _fake_cifar_folder(tmp_path / 'cifar')
  (folder / 'data_batch_3').write_bytes(b'\x80\x04junk')
  with pytest.raises(ValueError, match='data_batch_3'):
    sources.load_dataset('cifar10', 'train', str(tmp_path / 'cifar'))
  os.remove(folder / 'test_batch')
  with pytest.raises(ValueError, match='test_batch'):
    sources.load_dataset('cifar10', 'test', str(tmp_path / 'cifar'))


def test_import_has_no_side_effects():
  """Importing the module imports neither TensorFlow nor Keras and logs nothing."""
  code = ('import importlib.util, sys\n'
          f'spec = importlib.util.spec_from_file_location("s", {sources.__file__!r})\n'
          'module = importlib.util.module_from_spec(spec)\n'
          'spec.loader.exec_module(module)\n'
          'assert module.load_dataset and module.DATASETS == ("mnist", "cifar10")\n'
          'bad = [m for m in ("tensorflow", "keras") if m in sys.modules]\n'
          'assert not bad, bad\n')
  assert importlib.util.find_spec('absl') is not None
  out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                       timeout=60, check=False)
  assert out.returncode == 0, out.stderr
  assert out.stdout == '' and out.stderr == ''
