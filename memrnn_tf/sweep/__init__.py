"""Sweeps: a grid of ordinary training runs, on this machine or on a Ray cluster.

* ``grid``: expands a sweep config (``configs/sweep.py``) into runs and names them.
* ``steps``: post-steps run on each trained network (``extrapolate``, ``find_slowpoints``).
* ``runs``: one run (train, then post-steps) as subprocesses, and its state on disk.
* ``local`` / ``ray_backend``: the two backends (same ``run(specs, on_start, on_finish)``).
* ``record``: ``<root>/sweep.json`` and the summary table.
* ``driver``: ``run_sweep(sweep_config, root, backend)``, what ``bin/sweep.py`` calls.

Importing these modules imports neither TensorFlow nor Ray.
"""
