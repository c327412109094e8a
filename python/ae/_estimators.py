"""The estimators: scikit-learn's and PyOD's conventions over ae's engine (ae._core).

One class per role, not per model: the engine's models (``ae``, ``dae``, ``sparse``,
``contractive``, ``vae``) are presets of one configuration (``ae train --model``; a denoising
model is the plain one with noise, a sparse one the plain one with a penalty), so they are the
``model=`` parameter of each estimator. A grid search can then compare models like any other
hyperparameter, and a checkpoint of any model loads into either estimator.

Every parameter left at ``None`` takes ``ae train``'s default for the chosen model, so the same
settings give the same model as the command line (bit for bit on the CPU). The one difference:
``validation_fraction`` defaults to 0 (train on all of X), where ``ae train`` holds out 10%.
What the two share is in ae._base.
"""
from __future__ import annotations

import json
import os
from typing import Any, Optional, Sequence, Union

import numpy as np
from scipy.special import erf
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from . import _core
from ._base import (_FITTED_DOC, _PARAMS_DOC, ArrayLike, _Base, _checked_array, _dlpack_input,
                    _is_dlpack, _Progress)


class Autoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, _Base):
    __doc__ = """An autoencoder as a scikit-learn transformer: ``transform`` gives the code.

    X is (n_samples, n_features). float32 C-contiguous NumPy arrays are read in place; other
    dtypes and layouts, and pandas DataFrames (whose columns are kept: feature_names_in_), are
    converted once to float32 C order; DLPack tensors (PyTorch, CuPy; on the CPU or a CUDA
    device) must be float32, 2-d and C-contiguous and are read in place, on their device.
    Results are float32 NumPy arrays (``set_output(transform="pandas")`` makes transform and
    fit_transform return DataFrames).
    """ + _PARAMS_DOC + _FITTED_DOC

    def __init__(self, model: str = "ae", *, hidden: Optional[Sequence[int]] = None,
                 code: Optional[int] = None, activation: Optional[str] = None,
                 code_activation: Optional[str] = None, data_kind: Optional[str] = None,
                 tied: Optional[bool] = None, noise: Optional[str] = None,
                 noise_level: Optional[float] = None, penalty: Optional[str] = None,
                 penalty_weight: Optional[float] = None, sparsity_target: Optional[float] = None,
                 beta: Optional[float] = None, normalize: Optional[str] = None,
                 validation_fraction: float = 0.0, epochs: Optional[int] = None,
                 batch_size: Optional[int] = None, optimizer: Optional[str] = None,
                 lr: Optional[float] = None, patience: Optional[int] = None,
                 options: Optional[dict] = None, random_state: Any = None,
                 device: Optional[str] = None, verbose: int = 0):
        self.model = model
        self.hidden = hidden
        self.code = code
        self.activation = activation
        self.code_activation = code_activation
        self.data_kind = data_kind
        self.tied = tied
        self.noise = noise
        self.noise_level = noise_level
        self.penalty = penalty
        self.penalty_weight = penalty_weight
        self.sparsity_target = sparsity_target
        self.beta = beta
        self.normalize = normalize
        self.validation_fraction = validation_fraction
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.patience = patience
        self.options = options
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def fit(self, X: ArrayLike, y: Any = None) -> "Autoencoder":
        """Trains on the rows of X (n_samples, n_features); y is ignored. Returns self."""
        self._fit_model(X)
        return self

    def transform(self, X: ArrayLike) -> np.ndarray:
        """The code of each row: (n_samples, code) float32 (a VAE's posterior mean)."""
        check_is_fitted(self)
        return self.model_.encode(self._engine(self._input(X, reset=False)))

    def inverse_transform(self, X: ArrayLike) -> np.ndarray:
        """Codes (n_samples, code) decoded: (n_samples, n_features) float32 in data space."""
        check_is_fitted(self)
        if _is_dlpack(X):
            return self.model_.decode(_dlpack_input(X))
        return self.model_.decode(_checked_array(
            X, "X", lambda X: check_array(X, dtype=np.float32, order="C")))

    def score_samples(self, X: ArrayLike) -> np.ndarray:
        """Minus the reconstruction error of each row, Σ_features (x̂ − x)² in the model's
        (normalised) space: (n_samples,) float64, higher for more typical rows (scikit-learn's
        sign, as IsolationForest.score_samples). ``-score_samples`` is ``ae score``'s score."""
        check_is_fitted(self)
        return -self._errors(self._input(X, reset=False))

    def score(self, X: ArrayLike, y: Any = None) -> float:
        """The mean of score_samples: minus the mean reconstruction error per row (higher is
        better), the score GridSearchCV maximises by default."""
        return float(np.mean(self.score_samples(X)))

    @property
    def _n_features_out(self) -> int:
        return self.model_.code_width

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


class AnomalyDetector(_Base):
    __doc__ = """An autoencoder outlier detector with PyOD's names and meaning.

    The outlier score of a row (``ae score``'s; higher is more abnormal) adds its reconstruction
    error, each feature weighted by the inverse of its mean squared error on the training rows,
    and the Mahalanobis distance of its code from the training codes, each divided by its mean
    over the training rows (see :meth:`decision_function`). The threshold is the
    (1 − contamination) quantile of the training rows' scores, linearly interpolated, as in
    ``ae score``.

    With ``model=None`` (the default) the model is chosen from the data, by the rule of ``ae
    train --model auto``: for a table of d features an autoencoder with a code of round(√d)
    units (clamped to [2, 32]), one hidden layer of max(2·code, min(d, 64)) units, a linear code
    and standardised features; pictures get the VAE. Parameters given keep their values.
    ``model_choice_`` says what was chosen. The rule and its measurements on ADBench's sets are
    in docs/anomaly-detection.md.

    contamination : float in (0, 1), default 0.1
        The expected fraction of outliers in the training data (the range of ``ae score
        --contamination``; PyOD allows (0, 0.5]).
    """ + _PARAMS_DOC + _FITTED_DOC + """
    model_choice_ : str
        What ``model=None`` became and why ("" when ``model`` was given).
    score_stats_ : tuple of 4 floats
        The training scores' minimum, maximum, mean and standard deviation (what
        :meth:`predict_proba` scales by; saved with the detector).
    decision_scores_ : ndarray (n_samples,) float64
        The training rows' outlier scores.
    threshold_ : float
        Scores above it are outliers.
    labels_ : ndarray (n_samples,) int
        The training rows' labels: 0 inlier, 1 outlier.
    """

    def __init__(self, contamination: float = 0.1, model: Optional[str] = None, *,
                 hidden: Optional[Sequence[int]] = None, code: Optional[int] = None,
                 activation: Optional[str] = None, code_activation: Optional[str] = None,
                 data_kind: Optional[str] = None, tied: Optional[bool] = None,
                 noise: Optional[str] = None, noise_level: Optional[float] = None,
                 penalty: Optional[str] = None, penalty_weight: Optional[float] = None,
                 sparsity_target: Optional[float] = None, beta: Optional[float] = None,
                 normalize: Optional[str] = None, validation_fraction: float = 0.0,
                 epochs: Optional[int] = None, batch_size: Optional[int] = None,
                 optimizer: Optional[str] = None, lr: Optional[float] = None,
                 patience: Optional[int] = None, options: Optional[dict] = None,
                 random_state: Any = None, device: Optional[str] = None, verbose: int = 0):
        self.contamination = contamination
        self.model = model
        self.hidden = hidden
        self.code = code
        self.activation = activation
        self.code_activation = code_activation
        self.data_kind = data_kind
        self.tied = tied
        self.noise = noise
        self.noise_level = noise_level
        self.penalty = penalty
        self.penalty_weight = penalty_weight
        self.sparsity_target = sparsity_target
        self.beta = beta
        self.normalize = normalize
        self.validation_fraction = validation_fraction
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.patience = patience
        self.options = options
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _check_contamination(self) -> None:
        c = self.contamination
        if not isinstance(c, (int, float, np.number)) or not 0 < c < 1:
            raise ValueError(f"contamination must lie in (0, 1) (as ae score --contamination), "
                             f"got {c!r}")

    def fit(self, X: ArrayLike, y: Any = None) -> "AnomalyDetector":
        """Trains on the rows of X (n_samples, n_features) (y is ignored), then scores them
        and sets decision_scores_, threshold_, labels_. Returns self."""
        self._check_contamination()
        self._fit_model(X)
        return self

    def _after_fit(self, X: ArrayLike) -> None:
        self.model_choice_ = self.model_.model_reason
        self._fit_scores(X)

    def _fit_scores(self, X: ArrayLike) -> None:
        """The anomaly scorer fitted on the training rows X (as _input returned it), then their
        scores and threshold."""
        self.model_.fit_scorer(self._engine(X))
        self._set_threshold(self._scores(X))

    def _scores(self, X: ArrayLike) -> np.ndarray:
        """ae score's anomaly score of each row of X, as _input returned it
        (analysis/anomaly.h: the reconstruction error weighted per feature plus the code's
        Mahalanobis distance, each in units of its training mean); a checkpoint written without
        a scorer scores by the reconstruction error alone."""
        if not self.model_.has_scorer():
            return self._errors(X)
        return self.model_.anomaly_scores(self._engine(X))

    def _set_threshold(self, scores: np.ndarray) -> None:
        self.decision_scores_ = scores
        # What predict_proba needs of the training scores (saved with the detector).
        self.score_stats_ = (float(scores.min()), float(scores.max()), float(scores.mean()),
                             float(scores.std()))
        self.threshold_ = _core.quantile(scores.tolist(), 1.0 - float(self.contamination))
        self.labels_ = (scores > self.threshold_).astype(int)

    def fit_threshold(self, X: ArrayLike) -> "AnomalyDetector":
        """Scores the rows of X (the training data) with the fitted model and sets
        decision_scores_, threshold_ and labels_ from them, as fit does (e.g. after changing
        contamination). Returns self."""
        check_is_fitted(self, "model_")
        self._check_contamination()
        self._fit_scores(self._input(X, reset=False))
        return self

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """The outlier score of each row: (n_samples,) float64, higher is more abnormal. It adds
        two statistics, each divided by its mean over the training rows (so a typical training
        row scores about 2): the squared reconstruction error with each feature weighted by the
        inverse of its mean squared error on the training rows (Q), and the Mahalanobis distance
        of the row's code from the training rows' codes (Hotelling's T²); see
        docs/anomaly-detection.md."""
        check_is_fitted(self)
        return self._scores(self._input(X, reset=False))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """0 (inlier) or 1 (outlier) for each row: its score above threshold_. (n_samples,) int."""
        check_is_fitted(self)
        return (self._scores(self._input(X, reset=False)) > self.threshold_).astype(int)

    def predict_proba(self, X: ArrayLike, method: str = "linear") -> np.ndarray:
        """(n_samples, 2): the probability of inlier and outlier per row, from the score and the
        training rows' scores, as PyOD computes it:

        - ``"linear"``: the score min-max scaled by the training scores' range, clipped to
          [0, 1];
        - ``"unify"``: erf((score − mean) / (std · √2)) of the training scores' mean and
          standard deviation, clipped to [0, 1] (Kriegel et al. 2011, "Interpreting and
          Unifying Outlier Scores").

        ``predict_proba(X)[:, 1] > 0.5`` is not :meth:`predict`: predict flags the scores above
        ``threshold_``, the (1 − contamination) quantile of the training scores, while 0.5 is
        the midpoint of their range ("linear") or their mean plus 0.48 standard deviations
        ("unify"); with skewed scores the two flag different numbers of rows. Both need only
        the training scores' summary, which a saved detector keeps."""
        check_is_fitted(self)
        if method not in ("linear", "unify"):
            raise ValueError(f"predict_proba: method must be 'linear' or 'unify', got {method!r}")
        if not hasattr(self, "score_stats_"):
            raise ValueError("predict_proba needs the training scores' summary: load the "
                             "checkpoint with AnomalyDetector.load(path, X=training rows)")
        lo, hi, mean, std = self.score_stats_
        scores = self._scores(self._input(X, reset=False))
        if method == "linear":
            p = np.clip((scores - lo) / (hi - lo), 0, 1) if hi > lo else (scores > hi) * 1.0
        elif std > 0:
            p = np.clip(erf((scores - mean) / (std * np.sqrt(2))), 0, 1)
        else:
            p = (scores > mean) * 1.0
        return np.column_stack([1 - p, p])

    def _before_save(self) -> None:
        super()._before_save()
        self.model_.set_metadata("python.contamination", repr(float(self.contamination)))
        if hasattr(self, "threshold_"):
            self.model_.set_metadata("python.threshold", repr(float(self.threshold_)))
        if hasattr(self, "score_stats_"):
            self.model_.set_metadata("python.score_stats", json.dumps(list(self.score_stats_)))

    def _after_load(self, path: str, X: Optional[ArrayLike] = None) -> None:
        """A checkpoint saved by this class carries its threshold; with X (the training rows),
        decision_scores_, threshold_ and labels_ are computed from them instead. Without
        either there is no threshold, and no honest way to make one: ValueError."""
        meta = self.model_.metadata
        if "python.contamination" in meta:
            self.contamination = float(meta["python.contamination"])
        if X is not None:
            self.fit_threshold(X)
        elif "python.threshold" in meta:
            self.threshold_ = float(meta["python.threshold"])
            if "python.score_stats" in meta:
                self.score_stats_ = tuple(float(v) for v in json.loads(meta["python.score_stats"]))
        else:
            raise ValueError(f"{path}: the checkpoint has no detector threshold (written by "
                             f"{meta.get('python.estimator', 'ae train')}, not AnomalyDetector); "
                             "pass the training rows as AnomalyDetector.load(path, X=...) to "
                             "compute it")

    @classmethod
    def load(cls, path: Union[str, os.PathLike], device: Optional[str] = None,
             X: Optional[ArrayLike] = None) -> "AnomalyDetector":
        """As :meth:`Autoencoder.load`; ``X``: the training rows, from which decision_scores_,
        threshold_ and labels_ are computed (at the checkpoint's contamination when it has one).
        A checkpoint without a threshold (written by ``ae train`` or :class:`Autoencoder`) needs
        X: without it, ValueError naming the file (a threshold is not derived from anything
        else)."""
        return super().load(path, device, X=X)


# SparseAutoencoder parameter -> field of a run's config.json.
_SAE_FIELDS = {
    "architecture": "model.kind",
    "n_latents": "model.latents",
    "k": "model.k",
    "auxk_alpha": "model.auxk_alpha",
    "auxk_k": "model.auxk_k",
    "dead_after": "model.dead_after",
    "penalty_weight": "model.penalty_weight",
    "bandwidth": "model.bandwidth",
    "initial_threshold": "model.initial_threshold",
    "unit_norm_decoder": "model.unit_norm_decoder",
    "decoder_bias_init": "model.decoder_bias_init",
    "normalize": "data.normalize",
    "validation_fraction": "data.validation",
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "lr": "train.lr",
    "lr_warmup": "train.lr_warmup",
    "device": "device",
}


# SparseAutoencoder's fitted figures -> the history_ column each is the last value of.
_SAE_FIGURES = {
    "fvu_": "fvu",
    "explained_variance_": "explained_variance",
    "l0_": "l0",
    "mse_": "mse",
    "dead_fraction_": "dead_fraction",
    "dense_fraction_": "dense_fraction",
}


class SparseAutoencoder(TransformerMixin, _Base):
    """A sparse autoencoder for a model's activations (``ae train --model topk`` and its kin;
    docs/sae.md): ``encode``/``transform`` give each row's latents, few of them non-zero.

    Parameters (``None``: ``ae train``'s default for the architecture)
    ----------
    architecture : {"topk", "batchtopk", "jumprelu", "relu-l1"}, default "topk"
        ``ae train --model``.
    n_latents : int (``--latents``; 16 × n_features), k (``--k``; 32), auxk_alpha (1/32),
        auxk_k (n_features / 2), dead_after (min(10,000,000, the training rows); 10,000,000
        for partial_fit), penalty_weight (λ: relu-l1 5, jumprelu 1), bandwidth (0.001),
        initial_threshold (0.001), unit_norm_decoder ("auto": on except relu-l1),
        decoder_bias_init ("median")
    normalize : {"auto", "none", "mean_norm", ...}; "auto" is mean_norm: x · √d / E‖x‖
    validation_fraction : float, default 0 (fit only)
    epochs, batch_size (4096), lr (4e-4 · √(2^14 / n_latents) · √(768 / n_features)),
    lr_warmup (1000 steps)
    sparse_output : bool, default False
        transform returns a scipy.sparse CSR matrix (scipy is needed) instead of a dense array.
    options, random_state, device, verbose : as for :class:`Autoencoder`.

    ``fit(X)`` takes an array (float32; other float dtypes are converted once) or the path of a
    ``.npy`` file or a folder of ``.npy``/``.safetensors`` shards, read in blocks while training
    as ``ae train --stream`` reads it. ``partial_fit(X)`` trains on activations that arrive
    batch by batch (see there).

    Attributes
    ----------
    fvu_, explained_variance_, l0_, mse_, dead_fraction_, dense_fraction_ : float
        After fit: the last epoch's figures; after partial_fit: those of the rows of the last
        call (history_'s columns of the same names; docs/sae.md defines them). None after load.
    n_dead_latents_ : int or None
        Latents past dead_after samples without firing, after the last epoch or call; None
        after load.
    history_ : pandas.DataFrame or list of dict
        One row per epoch of fit (as metrics.csv: the loss terms, lr, steps, ..., l0,
        dead_fraction, dense_fraction, mse, fvu, explained_variance, dead_latents, auxk), or
        per partial_fit call (its ``epoch`` counts the calls).
    n_features_in_, n_epochs_ (0 after partial_fit alone), device_, model_
    """

    _fields = _SAE_FIELDS

    @staticmethod
    def _loads(kind: str) -> bool:
        return _core.is_sae(kind)

    def __init__(self, architecture: str = "topk", *, n_latents: Optional[int] = None,
                 k: Optional[int] = None, auxk_alpha: Optional[float] = None,
                 auxk_k: Optional[int] = None, dead_after: Optional[int] = None,
                 penalty_weight: Optional[float] = None, bandwidth: Optional[float] = None,
                 initial_threshold: Optional[float] = None,
                 unit_norm_decoder: Optional[str] = None,
                 decoder_bias_init: Optional[str] = None, normalize: Optional[str] = None,
                 validation_fraction: float = 0.0, epochs: Optional[int] = None,
                 batch_size: Optional[int] = None, lr: Optional[float] = None,
                 lr_warmup: Optional[int] = None, sparse_output: bool = False,
                 options: Optional[dict] = None, random_state: Any = None,
                 device: Optional[str] = None, verbose: int = 0):
        self.architecture = architecture
        self.n_latents = n_latents
        self.k = k
        self.auxk_alpha = auxk_alpha
        self.auxk_k = auxk_k
        self.dead_after = dead_after
        self.penalty_weight = penalty_weight
        self.bandwidth = bandwidth
        self.initial_threshold = initial_threshold
        self.unit_norm_decoder = unit_norm_decoder
        self.decoder_bias_init = decoder_bias_init
        self.normalize = normalize
        self.validation_fraction = validation_fraction
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_warmup = lr_warmup
        self.sparse_output = sparse_output
        self.options = options
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def fit(self, X: Union[ArrayLike, str, os.PathLike], y: Any = None) -> "SparseAutoencoder":
        """Trains on the rows of X (an array, or a .npy file or folder of shards, streamed);
        y is ignored. Returns self."""
        if isinstance(X, (str, os.PathLike)):
            config = self._config()
            try:
                model = _core.FittedModel.fit_stream(json.dumps(config), os.fspath(X), None, None)
            except (ValueError, TypeError) as e:
                raise self._named(e) from None
            self.model_ = model
            self.n_features_in_ = model.input_width
            self.n_epochs_ = model.epochs
            self.device_ = model.device
            self._set_history(list(model.history))
            self._set_diagnosis(dict(model.diagnosis))
            if model.interrupted:
                model.raise_pending()
            return self
        self._fit_model(X)
        return self

    def partial_fit(self, X: ArrayLike, y: Any = None) -> "SparseAutoencoder":
        """Trains on the rows of X (n_samples, n_features), for activations made on the fly
        (e.g. batch by batch from a PyTorch forward hook); y is ignored. Returns self.

        X: a NumPy array (float32 read in place; other float dtypes converted once) or a DLPack
        tensor (PyTorch, CuPy), float32, 2-d and C-contiguous (else TypeError), read in place:
        a CPU tensor is trained on from its own memory, a CUDA tensor on its device, where the
        model then lives (unless ``device`` names another; without CUDA in ae, ValueError).

        The first call builds the model from X: its width, the normalisation (mean_norm's
        E‖x‖) and the decoder bias (its geometric median) are estimated on this first batch
        alone, so make it representative (a few thousand rows). Later calls continue with the
        same model and optimizer state (Adam's moments and step count); X must have the same
        width (ValueError naming both). Each call walks its rows in order, one optimizer step
        per ``batch_size`` rows, a last chunk of fewer rows one step too (pass batches of a
        multiple of batch_size, or exactly batch_size, for equal steps). The learning rate
        warms up linearly over ``lr_warmup`` steps counted over all calls, then stays at
        ``lr``: with no total known there is no decay (``epochs``, ``validation_fraction`` and
        ``options["train.lr_schedule"]`` do not apply). Dead latents count samples since each
        latent last fired over all calls (``dead_after``: 10,000,000 unless given), so AuxK
        sees them across calls. The figures (``fvu_``, ``l0_``, ...) and a row of history_
        describe the rows of this call.

        After fit or load, partial_fit goes on training that model with a fresh optimizer
        (its step count and the warm-up start again; a checkpoint holds no optimizer moments);
        fit after partial_fit starts over (scikit-learn's rule)."""
        first = not hasattr(self, "model_")
        X = self._input(X, reset=first)
        if first:
            try:
                self.model_ = _core.FittedModel.start(json.dumps(self._config()),
                                                      self._engine(X))
            except (ValueError, TypeError) as e:
                raise self._named(e) from None
            self.n_epochs_ = 0
            self.device_ = self.model_.device
        progress = _Progress(int(self.verbose or 0), type(self).__name__, 1, X.shape[0])
        try:
            self.model_.partial_fit(self._engine(X), progress.batch)
        finally:
            progress.close()
            self._set_history(self.model_.history)
        return self

    def encode(self, X: ArrayLike, sparse: bool = False):
        """Each row's latents: (n_samples, n_latents) float32; with ``sparse=True`` the pair
        (values, indices), each (n_samples, width): values float32, indices int32, the latent
        of each value, -1 for an empty slot (value 0). width is k for topk; for batchtopk,
        jumprelu and relu-l1 the most latents active in one row of X."""
        check_is_fitted(self)
        X = self._input(X, reset=False)
        if sparse:
            return self.model_.encode_sparse(self._engine(X))
        return self.model_.encode(self._engine(X))

    def decode(self, Z: ArrayLike) -> np.ndarray:
        """Latents (n_samples, n_latents), dense or scipy.sparse, decoded: (n_samples,
        n_features) float32 in data space (the normalisation inverted)."""
        check_is_fitted(self)
        if hasattr(Z, "toarray"):
            Z = Z.toarray()
        return self.model_.decode(_checked_array(
            Z, "Z", lambda Z: check_array(Z, dtype=np.float32, order="C")))

    def transform(self, X: ArrayLike):
        """encode(X): dense, or a scipy.sparse CSR matrix with sparse_output=True."""
        Z = self.encode(X)
        if self.sparse_output:
            from scipy.sparse import csr_matrix
            return csr_matrix(Z)
        return Z

    def inverse_transform(self, Z: ArrayLike) -> np.ndarray:
        """decode(Z)."""
        return self.decode(Z)

    def export(self, path: Union[str, os.PathLike], format: str = "saelens") -> None:
        """Writes the fitted SAE to the folder ``path`` for the interpretability tools, as
        ``ae export`` does (docs/sae.md): format "saelens" (cfg.json and
        sae_weights.safetensors, read by ``sae_lens.SAE.load_from_disk``; every architecture,
        batchtopk as a JumpReLU with its inference threshold, relu-l1 as "standard") or
        "sparsify" (cfg.json and sae.safetensors, read by
        ``sparsify.SparseCoder.load_from_disk``; topk only). The normalisation is folded into
        the weights: the exported SAE reads the activations as they are and gives this
        estimator's ``encode`` and ``reconstruct``. ``SparseAutoencoder.load(path)`` reads
        such a folder back. Raises ValueError for another format or an architecture the
        format lacks, FileExistsError when the folder already holds cfg.json or the weights."""
        check_is_fitted(self)
        self.model_.export_sae(os.fspath(path), format)

    def _set_history(self, rows: list) -> None:
        super()._set_history(rows)
        last = rows[-1] if rows else {}
        for name, column in _SAE_FIGURES.items():
            setattr(self, name, last.get(column))
        dead = last.get("dead_latents")
        self.n_dead_latents_ = None if dead is None else int(dead)

    def _set_diagnosis(self, d: dict) -> None:
        """A sparse autoencoder's figures are its history's (_set_history)."""

    @property
    def _n_features_out(self) -> int:
        return self.model_.code_width
