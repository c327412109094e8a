"""What the estimators share: settings, input checks, progress, fitting, saving and loading over
ae's engine (ae._core), and the parameter docs. The estimators are in ae._estimators.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import warnings
from typing import Any, Optional, Union

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _core

ArrayLike = Any  # a NumPy array, anything np.asarray takes, or a DLPack tensor

try:
    from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning
except ImportError:  # pragma: no cover - scikit-learn is a dependency; kept for a bare install
    _SklearnConvergenceWarning = UserWarning


class ConvergenceWarning(_SklearnConvergenceWarning):
    """What ``fit`` warns with when the trained model's code carries little: the model collapsed
    (most code units constant, or a reconstruction no better than predicting the mean) or a
    ReLU-type code has many dead units. The message is the one ``ae train`` prints, with the
    likely cause. A subclass of scikit-learn's ConvergenceWarning, so filters for that catch it."""

# Estimator parameter -> field of a run's config.json (run/config.cpp declares them all).
_FIELDS = {
    "model": "model.kind",
    "hidden": "model.hidden",
    "code": "model.code",
    "activation": "model.activation",
    "code_activation": "model.code_activation",
    "data_kind": "model.data_kind",
    "tied": "model.tied",
    "noise": "model.noise",
    "noise_level": "model.noise_level",
    "penalty": "model.penalty",
    "penalty_weight": "model.penalty_weight",
    "sparsity_target": "model.sparsity_target",
    "beta": "model.beta",
    "normalize": "data.normalize",
    "validation_fraction": "data.validation",
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "optimizer": "train.optimizer",
    "lr": "train.lr",
    "patience": "train.patience",
    "device": "device",
}


def _plain(value: Any) -> Any:
    """A parameter value as JSON: tuples and arrays become lists, NumPy scalars numbers."""
    if isinstance(value, (tuple, list, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _set_field(root: dict, key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    node = root
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = _plain(value)


def _get_field(root: dict, key: str) -> Any:
    node = root
    for p in key.split("."):
        node = node[p]
    return node


def _leaves(node: dict, prefix: str = "") -> list:
    """(dotted key, value) for every leaf of a nested config dict."""
    out = []
    for key, value in node.items():
        if isinstance(value, dict):
            out += _leaves(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out


def _is_dlpack(X: Any) -> bool:
    return hasattr(X, "__dlpack__") and not isinstance(X, np.ndarray)


_KDLCUDA = 2  # DLPack's device type of CUDA memory


def _export_guard(X: Any, index: int):
    """The producer's own "current CUDA device" set to ``index`` for the export. A producer
    orders the consumer's stream after its pending writes on the stream current on its current
    device (PyTorch records its event on ``torch.cuda.current_stream()``), which for a tensor on
    another GPU than the current one is the wrong stream: the export runs under the tensor's
    device (PyTorch: ``torch.cuda.device``, CuPy: ``cupy.cuda.Device``). Other producers export
    as they are."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(X, torch.Tensor):
        return torch.cuda.device(index)
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(X, cupy.ndarray):
        return cupy.cuda.Device(index)
    return contextlib.nullcontext()


def _check_dlpack(X: Any) -> None:
    """TypeError unless the DLPack tensor X is float32 and, where it says (PyTorch's
    ``is_contiguous``, CuPy's ``flags``), C-contiguous: ae reads it in place, so neither is
    converted (checked before any export or copy)."""
    dtype = str(getattr(X, "dtype", "float32"))
    if not dtype.endswith("float32"):
        raise TypeError(f"{type(X).__name__} of dtype {dtype}: ae reads float32 DLPack tensors; "
                        "convert it first (PyTorch: x.float().contiguous())")
    contiguous = getattr(X, "is_contiguous", None)
    flags = getattr(X, "flags", None)
    if (callable(contiguous) and not contiguous()) or (
            flags is not None and getattr(flags, "c_contiguous", True) is False):
        shape = tuple(getattr(X, "shape", ()))
        raise TypeError(f"{type(X).__name__} of shape {shape} is not C-contiguous (a transpose or "
                        "a strided slice): ae reads DLPack tensors in place; make it contiguous "
                        "first (PyTorch: x.contiguous())")


def _dlpack_input(X: Any) -> Any:
    """What the engine is given for the DLPack tensor X (float32, else TypeError, before any
    copy): a CPU tensor as it is (the engine exports it itself); a CUDA tensor exported now, for
    ae's own stream of its device (``X.__dlpack__(stream=...)``, under that device: see
    _export_guard), so that the producer's pending writes complete before ae's kernels read it;
    it stays on its device. ValueError when ae has no CUDA device of that index.

    The result of a CUDA export is a DLPack capsule: it has no shape and is consumed by the one
    engine call it is passed to, so call this once per engine call, right before it, and read
    shapes from X itself."""
    _check_dlpack(X)
    device_type, device_id = X.__dlpack_device__()
    if int(device_type) == _KDLCUDA:
        index = int(device_id)
        if _core.cuda_device_count() <= index:
            raise ValueError(f"X is on cuda:{index}, but ae has "
                             f"{_core.cuda_device_count()} usable CUDA device(s)")
        with _export_guard(X, index):
            return X.__dlpack__(stream=_core.cuda_stream(index))
    return X


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _describe(X: Any) -> str:
    """"shape (n, m), dtype float64" of an array-like, as far as it has them (for messages)."""
    shape = getattr(X, "shape", None)
    if shape is None:
        try:
            shape = np.shape(X)
        except Exception:  # a ragged list: no shape
            shape = None
    dtype = getattr(X, "dtype", None)
    parts = ([f"shape {tuple(shape)}"] if shape is not None else []) + \
        ([f"dtype {dtype}"] if dtype is not None else [])
    return ", ".join(parts) or type(X).__name__


def _checked_array(X: Any, name: str, check) -> Any:
    """check(X) (scikit-learn's validate_data or check_array, converting to float32) with its
    errors as one line naming the argument, its shape and dtype, and the problem. Values beyond
    float32's range are refused first (a float32 copy would make them inf, with numpy's
    RuntimeWarnings). scikit-learn's own phrases ("Input X contains NaN", "Reshape your data",
    "Complex data not supported") stay in the message, which its estimator checks look for.
    A DataFrame whose columns are not those of fit keeps scikit-learn's whole message: its
    lines list the columns unseen at fit time and those missing, or say that the order
    differs."""
    if isinstance(X, np.ndarray) and X.dtype.kind == "f" and X.dtype.itemsize > 4:
        with np.errstate(invalid="ignore", over="ignore"):
            beyond = np.isfinite(X) & (np.abs(X) > _FLOAT32_MAX)
        if beyond.any():
            largest = X[beyond].flat[np.argmax(np.abs(X[beyond]))]
            raise ValueError(f"{name} ({_describe(X)}) holds {float(largest):g}, beyond float32's "
                             f"range (±{_FLOAT32_MAX:g}): ae computes in float32; rescale {name}")
    try:
        with np.errstate(over="ignore"):  # values beyond float32 in lists: "contains infinity"
            return check(X)
    except (ValueError, TypeError) as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        if not lines or len(lines) == 1 and str(e).startswith(name):
            raise
        text = lines[0].rstrip(".:")
        if str(e).startswith("The feature names should match"):
            text = str(e)
        elif "Reshape your data" in str(e):
            text += ("; Reshape your data with .reshape(-1, 1) for a single feature or "
                     ".reshape(1, -1) for a single sample")
        elif text.startswith("Complex data not supported"):
            text += "; ae reads real numbers"
        raise type(e)(f"{name} ({_describe(X)}): {text}") from None


class _Progress:
    """A progress bar over the training samples (tqdm when installed, else one line per epoch
    on stderr); silent with verbose=0."""

    def __init__(self, verbose: int, title: str, epochs: int, samples: int):
        self.verbose, self.title, self.epochs = verbose, title, epochs
        self.done_in_epoch = 0
        self.bar = None
        if verbose > 0:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=epochs * samples, unit="sample", unit_scale=True,
                                desc=title, leave=True)
            except ImportError:
                pass

    def batch(self, samples: int) -> None:
        if self.bar is not None:
            self.bar.update(samples - self.done_in_epoch)
        self.done_in_epoch = samples

    def epoch(self, row: Union[dict, str]) -> None:
        self.done_in_epoch = 0
        if self.verbose <= 0:
            return
        if isinstance(row, str):  # a note from the trainer
            (self.bar.write if self.bar is not None else self._print)(f"{self.title}: {row}")
            return
        losses = {k: v for k, v in row.items() if k.startswith(("train_", "val_"))}
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in losses.items()}, refresh=False)
        else:
            terms = "  ".join(f"{k} {v:.6g}" for k, v in losses.items())
            self._print(f"{self.title}: epoch {row['epoch']}/{self.epochs}  {terms}  "
                        f"({row['seconds']:.2f} s)")

    @staticmethod
    def _print(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Base(BaseEstimator):
    """What both estimators share: the settings, fit, the checkpoint and the array rules."""

    # Estimator parameter -> config.json field, for this estimator's parameters.
    _fields = _FIELDS

    @staticmethod
    def _loads(kind: str) -> bool:
        """Whether load accepts a checkpoint of this model kind."""
        return True

    # --- settings ---------------------------------------------------------------------------
    def _config(self) -> dict:
        config: dict = {}
        for name, key in self._fields.items():
            value = getattr(self, name)
            if value is not None:
                _set_field(config, key, value)
        seed = self.random_state
        if seed is None or isinstance(seed, np.random.RandomState):
            seed = int(check_random_state(seed).randint(np.iinfo(np.int32).max))
        _set_field(config, "seed", int(seed))
        _set_field(config, "data.seed", int(seed))
        for key, value in (self.options or {}).items():
            _set_field(config, key, value)
        return config

    def _named(self, error: Exception) -> Exception:
        """ae's message with the estimator parameter that a configuration field stands for."""
        text = str(error)
        for name, key in self._fields.items():
            if f"'{key}'" in text or f"({key})" in text:
                text += f" (parameter {name}={getattr(self, name)!r})"
                break
        return type(error)(text)

    # --- arrays -------------------------------------------------------------------------------
    def _input(self, X: ArrayLike, *, reset: bool) -> ArrayLike:
        """X checked (and n_features_in_ set when ``reset``), as the estimator keeps it for
        shapes and later calls; the engine is given _engine(X). DLPack tensors (PyTorch, CuPy,
        JAX; CPU or CUDA) are returned as they are and must be float32, 2-d and C-contiguous
        (else TypeError). Anything else goes through scikit-learn's validate_data: a float32
        C-contiguous NumPy array is used in place; other dtypes and layouts are converted once to
        float32 C order (a copy)."""
        if _is_dlpack(X):
            _check_dlpack(X)
            shape = tuple(X.shape)
            if len(shape) != 2:
                raise ValueError(f"Expected a 2D array, got an array of shape {shape}")
            if shape[0] == 0:
                raise ValueError(f"X ({_describe(X)}): Found array with 0 sample(s) (shape="
                                 f"{shape}) while a minimum of 1 is required by "
                                 f"{type(self).__name__}")
            if reset:
                self.n_features_in_ = shape[1]
            elif shape[1] != self.n_features_in_:
                raise ValueError(f"X has {shape[1]} features, but {type(self).__name__} is "
                                 f"expecting {self.n_features_in_} features as input")
            return X
        return _checked_array(X, "X", lambda X: validate_data(self, X, reset=reset,
                                                              dtype=np.float32, order="C"))

    @staticmethod
    def _engine(X: ArrayLike) -> Any:
        """What one engine call reads for X as _input returned it: a NumPy array itself, a DLPack
        tensor exported for ae's stream (_dlpack_input: a fresh capsule per call)."""
        return _dlpack_input(X) if _is_dlpack(X) else X

    # --- training -----------------------------------------------------------------------------
    def _fit_model(self, X: ArrayLike) -> np.ndarray:
        X = self._input(X, reset=True)
        config = self._config()
        n = X.shape[0]
        epochs = int(_get_field(config, "train.epochs")) if "train" in config and \
            "epochs" in config["train"] else 30
        val = float(self.validation_fraction or 0)
        progress = _Progress(int(self.verbose or 0), type(self).__name__, epochs,
                             n - int(round(val * n)))
        try:
            model = _core.FittedModel.fit(json.dumps(config), self._engine(X), progress.batch,
                                          progress.epoch)
        except (ValueError, TypeError) as e:
            raise self._named(e) from None
        finally:
            progress.close()
        self.model_ = model
        self.n_epochs_ = model.epochs
        self.device_ = model.device
        self._set_history(list(model.history))
        self._set_diagnosis(dict(model.diagnosis))
        self._after_fit(X)
        if model.interrupted:
            warnings.warn(f"{type(self).__name__}.fit stopped after {model.epochs} finished "
                          "epochs and the current batch; the model is usable as it is",
                          RuntimeWarning, stacklevel=3)
            model.raise_pending()
        return X

    def _after_fit(self, X: ArrayLike) -> None:
        """What a subclass derives from the training data X (as _input returned it: checked
        once, in fit) once the model is trained."""

    def _set_diagnosis(self, d: dict) -> None:
        """The code check of fit (run/diagnose.h, the one ae train prints): its counts as
        attributes, its warning as a ConvergenceWarning."""
        self.n_constant_latents_ = d.get("constant_units")
        self.n_dead_latents_ = d.get("dead_units")
        self.collapsed_ = d.get("collapsed")
        if d.get("warning"):
            warnings.warn(f"{type(self).__name__}.fit: {d['warning']}", ConvergenceWarning,
                          stacklevel=4)

    def _set_history(self, rows: list) -> None:
        """rows: the history as a list of dicts, which may grow later (partial_fit passes the
        model's own list): history_ is built from it when read, not on every call."""
        self._history_rows = rows
        self.__dict__.pop("_history_table", None)

    @property
    def history_(self):
        """The history as a DataFrame (a list of dict without pandas), built when read and kept
        until more rows come: a loop of partial_fit calls pays nothing for it per call."""
        rows = self.__dict__.get("_history_rows")
        if rows is None:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute 'history_'")
        kept = self.__dict__.get("_history_table")
        if kept is None or kept[0] != len(rows):
            try:
                import pandas as pd

                kept = (len(rows), pd.DataFrame(list(rows)))
            except ImportError:
                kept = (len(rows), list(rows))
            self._history_table = kept
        return kept[1]

    # --- checkpoints --------------------------------------------------------------------------
    def save(self, path: Union[str, os.PathLike], data: Optional[Union[str, os.PathLike]] = None
             ) -> None:
        """Writes the model as the safetensors checkpoint ``ae train`` writes (parameters,
        configuration, normaliser; read by ``ae encode``, ``ae score``, ``ae reconstruct`` ...).

        ``data``: the file (CSV, NPY, IDX) the training rows came from, recorded as the run's
        data so that the commands that reload the training data without ``--data`` (``ae score``
        for its threshold, ``ae eval``) find it. It is read first: FileNotFoundError / OSError
        when it cannot be read, ValueError when its features are not n_features_in_ (nothing is
        written then). Raises OSError when ``path`` cannot be written (an existing file stays
        intact: the write is atomic)."""
        check_is_fitted(self)
        self._before_save()
        self.model_.save(os.fspath(path), os.fspath(data) if data is not None else "")

    def _before_save(self) -> None:
        self.model_.set_metadata("python.estimator", type(self).__name__)

    @classmethod
    def load(cls, path: Union[str, os.PathLike], device: Optional[str] = None, **kwargs):
        """The estimator of a checkpoint written by ``ae train`` or by :meth:`save`: a
        ``.safetensors`` file or a run folder (its ``best.safetensors``, else
        ``latest.safetensors``), or for SparseAutoencoder a SAELens or sparsify SAE folder
        (docs/sae.md). Its parameters are the checkpoint's configuration.
        Raises FileNotFoundError / OSError for a missing or unreadable file, ValueError for one
        that is not a valid checkpoint or, for SparseAutoencoder, holds a model that is not a
        sparse autoencoder."""
        model = _core.FittedModel.load(os.fspath(path), device or "auto")
        config = json.loads(model.config_json)
        kind = _get_field(config, "model.kind")
        if not cls._loads(kind):
            raise ValueError(f"{os.fspath(path)}: holds a model of kind '{kind}', which "
                             f"{cls.__name__} does not load; load it with ae.Autoencoder")
        params = {name: _get_field(config, key) for name, key in cls._fields.items()}
        if "hidden" in params:
            params["hidden"] = tuple(params["hidden"])
        params["random_state"] = config["seed"]
        # The other settings that differ from the model's defaults, so that a clone refits the
        # same model (the data source fields do not apply to arrays).
        preset = json.loads(_core.preset_json(kind))
        taken = set(cls._fields.values()) | {"seed", "data.seed"}
        options = {key: value for key, value in _leaves(config)
                   if key not in taken and not key.startswith("data.")
                   and value != _get_field(preset, key)}
        params["options"] = options or None
        if device is None:
            params["device"] = None
        est = cls(**params)
        est.model_ = model
        est.n_features_in_ = model.input_width
        est.n_epochs_ = model.epochs
        est.device_ = model.device
        est._set_history([])
        est._set_diagnosis({})
        est._after_load(os.fspath(path), **kwargs)
        return est

    def _after_load(self, path: str) -> None:
        pass

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if "model_" in state:  # the checkpoint's bytes
            self._before_save()
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "model.safetensors")
                self.model_.save(path, "")
                with open(path, "rb") as f:
                    state["model_"] = f.read()
        return state

    def __setstate__(self, state: dict) -> None:
        if isinstance(state.get("model_"), bytes):
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "model.safetensors")
                with open(path, "wb") as f:
                    f.write(state["model_"])
                state["model_"] = _core.FittedModel.load(path, state.get("device") or "auto")
        self.__dict__.update(state)

    # --- the model's maps ---------------------------------------------------------------------
    def reconstruct(self, X: ArrayLike) -> np.ndarray:
        """The model's reconstruction of each row of X (n, features) -> (n, features) float32,
        in data space (the normaliser inverted; for a VAE, the decoded posterior mean)."""
        check_is_fitted(self)
        return self.model_.reconstruct(self._engine(self._input(X, reset=False)))

    def _errors(self, X: ArrayLike) -> np.ndarray:
        """The reconstruction error of each row of X, as _input returned it (the public methods
        check their X once; what they call here takes it as it is)."""
        return self.model_.errors(self._engine(X))

    def sample(self, n_samples: int = 1, random_state: Optional[int] = None) -> np.ndarray:
        """A VAE's draws from its prior, z ~ N(0, I), decoded: (n_samples, features) float32 in
        data space. ``random_state`` seeds the draws (None: a fresh seed). ValueError for a
        model other than ``vae``."""
        check_is_fitted(self)
        seed = random_state if isinstance(random_state, (int, np.integer)) else \
            int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
        return self.model_.sample(int(n_samples), int(seed))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


_PARAMS_DOC = """
    Parameters (``None``: ``ae train``'s default for the model; ``ae train --help`` lists them)
    ----------
    model : {"ae", "dae", "sparse", "contractive", "vae"} or None
        The model (``--model``): plain, denoising (masking noise 0.3), sparse (KL sparsity),
        contractive, variational; None (``--model auto``): chosen from the data (the
        AnomalyDetector's default; see there).
    hidden : sequence of int
        Widths of the encoder's hidden layers from the input (``--hidden``; default (256, 64));
        the decoder mirrors them.
    code : int
        Width of the code, or of a VAE's latent (``--code``; 16, 64 for sparse, 2 for vae).
        The default is ``ae train``'s and does not depend on the width of X, so that the same
        settings give the same model as the command line: for a table of few features pass a
        narrower code (e.g. ``n_features // 2``), else the code is as wide as the input (or
        wider) and a linear baseline of the same width (PCA) reconstructs it exactly.
    activation, code_activation : str
        Hidden layers' and code layer's activation (relu, sigmoid, tanh, ...; linear).
    data_kind : {"auto", "binary", "real"}
        Output layer and loss: sigmoid + cross-entropy for data in [0, 1], identity + ½ squared
        error otherwise; "auto" picks by the range of the (normalised) training data.
    tied, noise, noise_level, penalty, penalty_weight, sparsity_target, beta
        As ``--tied``, ``--noise`` (masking, gaussian, salt_pepper, dropout), ``--noise-level``,
        ``--penalty`` (l1, kl_sparsity, contractive), ``--penalty-weight``, ``--sparsity-target``,
        ``--beta``.
    normalize : {"auto", "none", "min_max", "standardize", "pca"}, default "auto"
        Per-feature normalisation fitted on the training rows, saved with the model and applied
        to every input (outputs of inverse_transform, reconstruct, sample are mapped back);
        "auto" leaves data already in [0, 1] as it is and standardises anything else.
    validation_fraction : float, default 0
        Rows of X held out (a seeded split) to pick the best epoch and for ``patience``.
    epochs, batch_size, optimizer, lr, patience
        Training (``--epochs`` 30, ``--batch-size`` 64, ``--optimizer`` adam, ``--lr`` 4e-3,
        ``--patience`` 0: never stop early).
    options : dict, optional
        Any other field of a run's config.json by its dotted name, e.g.
        ``{"train.lr_schedule": "cosine", "model.dtype": "float64"}``.
    random_state : int, RandomState or None
        Seeds the parameters, the noise, the batch order and the validation split (``--seed``);
        the same seed gives the same model, bit for bit on the CPU.
    device : str, optional
        "cpu", "cuda", "cuda:N"; None: ``AE_DEVICE``, else the first usable GPU, else the CPU.
    verbose : int, default 0
        0: silent (scikit-learn's convention); 1: a progress bar (tqdm when installed, else one
        line per epoch on stderr).
"""

_FITTED_DOC = """
    Attributes
    ----------
    n_features_in_ : int
        Features of the training rows.
    feature_names_in_ : ndarray (n_features_in_,) of str
        The columns of a DataFrame given to fit (absent after fitting an array). Every later X
        must have the same columns in the same order: ValueError otherwise, whose lines list the
        columns unseen at fit time and those missing; an array without names is read with
        scikit-learn's UserWarning, once per call.
    history_ : list of dict or pandas.DataFrame
        One row per epoch, as a run's metrics.csv: epoch (from 1), train_total,
        train_reconstruction (train_penalty, train_kl when the model has them), val_* with
        validation_fraction > 0, lr, steps, seconds, samples_per_second, and for a sparse code
        (ReLU-type, or sigmoid under an l1 or kl_sparsity penalty) l0, dead_fraction and
        dense_fraction (docs/python.md). A DataFrame when pandas is installed.
    n_constant_latents_ : int or None
        Code units constant over the validation rows (the training rows without them) after
        fit; None after load.
    n_dead_latents_ : int or None
        Code units of a sparse code that never fire on those rows; None for another code, and
        after load.
    collapsed_ : bool or None
        Whether the model collapsed: most code units constant, or a reconstruction no better
        than predicting the mean. fit warns with a ConvergenceWarning (the text ``ae train``
        prints, naming the likely cause) when it collapsed or when a quarter or more of a
        ReLU-type code's units are dead. None after load.
    n_epochs_ : int
        Epochs completed.
    device_ : str
        The device the model lives on.
    model_ : ae._core.FittedModel
        The engine's model.

    Ctrl-C during ``fit`` stops after the current batch: the estimator is fitted with the
    model as it stands (a RuntimeWarning says so), and the KeyboardInterrupt propagates.
    Errors carry ae's message and follow from what failed: ValueError (a refused setting,
    array or file content), TypeError (an array type the engine cannot read), OSError (the file
    system; the subclass of its errno, e.g. FileNotFoundError, with ``errno`` set) and
    scikit-learn's NotFittedError (a model without what the call needs).
"""
