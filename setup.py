"""memrnn_tf: understanding and controlling memory in RNNs (TensorFlow 2 / Keras 3)."""

import setuptools

setuptools.setup(
    name='memrnn_tf',
    version='0.1.0',
    description=('Delayed classification, curricula, slow points and speed regularisation '
                 'for Keras RNNs (Haviv, Rivkind & Barak, ICML 2019).'),
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=setuptools.find_packages(include=['memrnn_tf', 'memrnn_tf.*']),
    python_requires='>=3.10',
    install_requires=[
        'tensorflow>=2.16,<2.22',
        'tensorboard',
        'keras>=3.3',
        'ml-collections>=0.1.1',
        'absl-py>=1.0',
        'numpy>=1.24',
        'matplotlib>=3.6',
        'scipy>=1.10',
    ],
    extras_require={
        # Ray is in the test extra so that CI runs the Ray backend's test.
        'test': ['pytest>=7', 'pytest-xdist>=3', 'ray>=2.9'],
        # Optional: run sweeps as Ray tasks (bin/sweep.py --ray_address=...).
        'ray': ['ray>=2.9'],
        # Optional: load MNIST / CIFAR-10 through TensorFlow Datasets when online.
        'tfds': ['tensorflow-datasets>=4.9', 'importlib_resources'],
    },
)
