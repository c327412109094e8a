"""ae: autoencoders on ae's C++/CUDA engine, with scikit-learn's and PyOD's conventions.

Two estimators, each over every model of the engine (``model="ae"``, ``"dae"``, ``"sparse"``,
``"contractive"`` or ``"vae"``, the names of ``ae train --model``):

* :class:`Autoencoder` - a scikit-learn transformer: ``fit(X)``, ``transform`` (the code),
  ``inverse_transform`` (decode), ``score_samples``, ``sample(n)`` for a VAE.
* :class:`AnomalyDetector` - a PyOD-style outlier detector: ``contamination``,
  ``decision_function``, ``decision_scores_``, ``threshold_``, ``labels_``, ``predict``,
  ``predict_proba``.

And :class:`SparseAutoencoder` for a model's activations (``ae train --model topk``, docs/sae.md).

All save and load the safetensors checkpoints of ``ae train`` (:meth:`Autoencoder.save`,
:meth:`Autoencoder.load`). Arrays: float32 C-contiguous NumPy arrays and DLPack tensors are read
in place; anything else is converted once (see :class:`Autoencoder`).
"""


def _load_engine():
    # The engine's CPU threads are libgomp's, which reads its spin count once, when it loads (with
    # ae._core, unless something loaded it before). Its default, 300,000 spins before an idle
    # thread sleeps, makes training many times slower when other processes hold the cores; so,
    # unless the user chose a wait policy, libgomp loads with the count the `ae` command line
    # starts itself with (docs/cpu-backend.md, "One pool"), and the environment is left as it was.
    import os

    chosen = "GOMP_SPINCOUNT" in os.environ or "OMP_WAIT_POLICY" in os.environ
    if not chosen:
        os.environ["GOMP_SPINCOUNT"] = "1000"
    try:
        from . import _core
    finally:
        if not chosen:
            del os.environ["GOMP_SPINCOUNT"]
    return _core


_core = _load_engine()
from ._base import ConvergenceWarning  # noqa: E402
from ._estimators import AnomalyDetector, Autoencoder, SparseAutoencoder  # noqa: E402

__all__ = ["Autoencoder", "AnomalyDetector", "SparseAutoencoder", "ConvergenceWarning",
           "default_device",
           "cuda_device_count"]
__version__ = "0.1.0"


def default_device() -> str:
    """The device a model trains on with ``device=None``: ``AE_DEVICE`` when set, else the
    first usable CUDA device, else ``"cpu"``."""
    return _core.default_device()


def cuda_device_count() -> int:
    """Usable CUDA devices (0 when ae was built without CUDA, or there is no driver or GPU)."""
    return _core.cuda_device_count()
