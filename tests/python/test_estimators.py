"""The Python package against the engine: zero copies, the same numbers as `ae`, checkpoints
shared with the command line, the detector's quality, errors, interruption, scikit-learn."""
import ctypes
import errno
import gzip
import json
import os
import signal
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import ae
from ae import _core

from conftest import anomaly_table

SMALL = dict(hidden=(16,), code=4, epochs=3, batch_size=32, verbose=0)


@pytest.fixture(scope="module")
def table():
    X, _ = anomaly_table(seed=1, n_normal=300, n_anomalies=0)
    return X


# --- arrays ------------------------------------------------------------------------------------
def test_float32_arrays_are_read_in_place(table):
    pointer, device = _core.tensor_view(table)
    assert pointer == table.__array_interface__["data"][0]
    assert device == "cpu"
    view = table[10:20]  # a C-contiguous slice: still no copy
    assert _core.tensor_view(view)[0] == view.__array_interface__["data"][0]


def test_other_dtypes_and_layouts_are_converted_once(table):
    model = ae.Autoencoder(random_state=0, **SMALL).fit(table)
    codes = model.transform(table)
    assert codes.dtype == np.float32 and codes.shape == (300, 4)
    np.testing.assert_array_equal(model.transform(table.astype(np.float64)), codes)
    np.testing.assert_array_equal(model.transform(np.asfortranarray(table)), codes)
    # The engine itself refuses what is not float32 C order, rather than copying silently.
    with pytest.raises(TypeError):
        _core.tensor_view(np.asfortranarray(table))
    with pytest.raises(TypeError):
        _core.tensor_view(table.astype(np.float64))


def test_a_memory_mapped_array_is_fitted_holding_one_copy(tmp_path):
    """fit reads np.load(mmap_mode='r') in place and leaves it untouched; the one copy it makes is
    the normalised training rows. Measured in a fresh process (VmHWM, the peak resident memory):
    the array's pages once read (1x) plus that copy (1x), over a first fit on a few rows that
    holds what does not grow with the data; 2.5x leaves room for the allocator and a batch, and
    is broken by any further whole copy (before: 6x)."""
    import subprocess
    rows, features = 65536, 256  # 64 MiB of float32
    X = np.random.default_rng(0).standard_normal((rows, features), dtype=np.float32)
    np.save(tmp_path / "x.npy", X)
    script = f"""
import numpy as np, ae
def peak():
    return int([l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]) * 1024
x = np.load({str(tmp_path / "x.npy")!r}, mmap_mode="r")
def fit(rows):
    ae.Autoencoder(hidden=(32,), code=8, epochs=1, batch_size=1024, validation_fraction=0.1,
                   normalize="standardize", random_state=0).fit(rows)
fit(x[:2048])  # what does not grow with the data: imports, the model, OpenBLAS's buffers
before = peak()
fit(x)
print(peak() - before)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=os.environ.copy())
    assert out.returncode == 0, out.stderr
    growth = int(out.stdout.split()[-1])
    print(f"[ measured ] fit on a memory-mapped {X.nbytes >> 20} MiB array: peak RSS grew by "
          f"{growth / X.nbytes:.2f}x the array")
    assert growth < 2.5 * X.nbytes
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), X)


class DLPackOnly:
    """A producer that offers only the DLPack protocol (as a PyTorch or CuPy tensor does)."""

    def __init__(self, array):
        self.array, self.shape, self.dtype = array, array.shape, array.dtype

    def __dlpack__(self, **kwargs):
        return self.array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()


def test_dlpack_tensors_are_read_in_place(table):
    assert _core.tensor_view(table.__dlpack__())[0] == table.__array_interface__["data"][0]
    model = ae.Autoencoder(random_state=0, **SMALL).fit(DLPackOnly(table))
    reference = ae.Autoencoder(random_state=0, **SMALL).fit(table)
    np.testing.assert_array_equal(model.transform(DLPackOnly(table)), reference.transform(table))
    np.testing.assert_array_equal(model.score_samples(DLPackOnly(table)),
                                  reference.score_samples(table))
    with pytest.raises(TypeError, match="DLPackOnly of dtype float64: ae reads float32"):
        model.transform(DLPackOnly(table.astype(np.float64)))
    with pytest.raises(ValueError, match="X has 3 features"):
        model.transform(DLPackOnly(np.ascontiguousarray(table[:, :3])))


class FakeCudaTensor:
    """A producer that says its rows are on cuda:1 (DLPack device type kDLCUDA = 2) and records
    every export: the stream asked for and the device current in the fake `torch` at that moment.
    An export hands out a CPU capsule of its rows, so the engine, which reads a capsule once,
    trains on the CPU; shapes are counted to show where the estimator reads them."""

    def __init__(self, array):
        self.array, self.dtype = array, array.dtype
        self.exports, self.shape_reads = [], 0

    @property
    def shape(self):
        self.shape_reads += 1
        return self.array.shape

    def __dlpack__(self, stream=None, **kwargs):
        self.exports.append({"stream": stream, "device": FakeTorch.current_device})
        return self.array.__dlpack__()

    def __dlpack_device__(self):
        return (2, 1)


class FakeTorch:
    """What ae's Python layer uses of `torch` to export a tensor under its own device:
    torch.Tensor (to recognise one) and torch.cuda.device(index) (to make index current)."""

    current_device = 0
    Tensor = FakeCudaTensor

    class cuda:
        @staticmethod
        def device(index):
            class Scope:
                def __enter__(self):
                    self.previous, FakeTorch.current_device = FakeTorch.current_device, index

                def __exit__(self, *exc):
                    FakeTorch.current_device = self.previous

            return Scope()


def test_cuda_tensors_are_exported_once_per_engine_call_under_their_device(table, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", FakeTorch)
    monkeypatch.setattr(_core, "cuda_device_count", lambda: 2)
    monkeypatch.setattr(_core, "cuda_stream", lambda index: 0x5000 + index)
    for cls in (ae.Autoencoder, ae.AnomalyDetector):
        x = FakeCudaTensor(table)
        model = cls(random_state=0, **SMALL).fit(x)
        reference = cls(random_state=0, **SMALL).fit(table)
        # Training reads the capsule; the detector then fits its scorer on the training rows and
        # scores them, from two more exports (a consumed capsule cannot be read again).
        calls = 1 if cls is ae.Autoencoder else 3
        assert x.exports == [{"stream": 0x5001, "device": 1}] * calls
        assert x.shape_reads >= 1 and model.n_features_in_ == 12
        assert FakeTorch.current_device == 0  # restored after each export
        if cls is ae.AnomalyDetector:
            np.testing.assert_array_equal(model.decision_scores_, reference.decision_scores_)
            assert model.threshold_ == reference.threshold_
        score = "score_samples" if cls is ae.Autoencoder else "decision_function"
        np.testing.assert_array_equal(getattr(model, score)(x), getattr(reference, score)(table))
        assert len(x.exports) == calls + 1
    assert model.predict(x).shape == (300,) and len(x.exports) == calls + 2
    # A device ae does not have is refused before any export.
    monkeypatch.setattr(_core, "cuda_device_count", lambda: 1)
    with pytest.raises(ValueError, match="X is on cuda:1, but ae has 1 usable CUDA device"):
        model.predict(x)
    assert len(x.exports) == calls + 2


METHODS = {ae.Autoencoder: ("transform", "score_samples", "reconstruct", "score"),
           ae.AnomalyDetector: ("decision_function", "predict", "predict_proba")}


def test_dataframes_fit_and_predict_without_warnings(table):
    df = pd.DataFrame(table, columns=[f"f{i}" for i in range(12)])
    for cls, methods in METHODS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model = cls(random_state=0, **SMALL).fit(df)
            from_df = [getattr(model, m)(df) for m in methods]
            if cls is ae.AnomalyDetector:
                model.fit_threshold(df)
            else:
                cls(random_state=0, **SMALL).fit_transform(df)
        assert list(model.feature_names_in_) == list(df.columns)
        reference = cls(random_state=0, **SMALL).fit(table)
        for method, result in zip(methods, from_df):
            np.testing.assert_array_equal(result, getattr(reference, method)(table))
        # An array where a DataFrame was fitted: scikit-learn's warning, once per call.
        for method in methods:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                getattr(model, method)(table)
            assert [str(w.message) for w in caught] == [
                f"X does not have valid feature names, but {cls.__name__} was fitted with "
                "feature names"], method


def test_dataframe_columns_other_than_fits_are_listed(table):
    df = pd.DataFrame(table, columns=[f"f{i}" for i in range(12)])
    head = ("X (shape (300, 12)): The feature names should match those that were passed during "
            "fit.\n")
    cases = [
        (df.rename(columns={"f3": "g3"}), head + "Feature names unseen at fit time:\n- g3\n"
         "Feature names seen at fit time, yet now missing:\n- f3\n"),
        (df.drop(columns=["f5", "f7"]).assign(extra=1.0),
         head.replace("(300, 12)", "(300, 11)") + "Feature names unseen at fit time:\n- extra\n"
         "Feature names seen at fit time, yet now missing:\n- f5\n- f7\n"),
        (df[df.columns[::-1]], head + "Feature names must be in the same order as they were in "
         "fit.\n"),
    ]
    for cls, methods in METHODS.items():
        model = cls(random_state=0, **SMALL).fit(df)
        for X, message in cases:
            for method in methods:
                with pytest.raises(ValueError) as e:
                    getattr(model, method)(X)
                assert str(e.value) == message, method


def test_outputs_are_numpy_arrays_over_the_engines_memory(table):
    model = ae.Autoencoder(random_state=0, **SMALL).fit(table)
    codes = model.transform(table)
    assert codes.flags.c_contiguous and not codes.flags.owndata  # held by the engine's tensor


# --- reproducibility and the command line ------------------------------------------------------
def test_same_seed_same_model_different_seed_different_model(table):
    a = ae.Autoencoder(random_state=7, **SMALL).fit(table).transform(table)
    b = ae.Autoencoder(random_state=7, **SMALL).fit(table).transform(table)
    c = ae.Autoencoder(random_state=8, **SMALL).fit(table).transform(table)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


CLI_FLAGS = ["--model", "dae", "--hidden", "16", "--code", "4", "--epochs", "3", "--batch-size",
             "32", "--seed", "5", "--validation", "0", "--normalize", "standardize"]
PY_PARAMS = dict(model="dae", hidden=(16,), code=4, epochs=3, batch_size=32, random_state=5,
                 validation_fraction=0, normalize="standardize", verbose=0)


def test_python_fit_equals_ae_train_bit_for_bit(table, ae_cli, tmp_path):
    data = tmp_path / "x.npy"
    np.save(data, table)
    ae_cli("train", "--data", data, *CLI_FLAGS, "--out", tmp_path / "run", "-q", "--no-pictures")
    ae_cli("encode", tmp_path / "run", "--data", data, "--out", tmp_path / "codes.npy")
    cli_codes = np.load(tmp_path / "codes.npy")
    model = ae.Autoencoder(**PY_PARAMS).fit(table)
    np.testing.assert_array_equal(model.transform(table), cli_codes)
    # The checkpoint of ae train loads in Python and gives the same codes and scores.
    loaded = ae.Autoencoder.load(tmp_path / "run")
    assert loaded.get_params()["model"] == "dae" and loaded.n_features_in_ == 12
    assert loaded.get_params()["options"] is None  # every setting is a parameter here
    # A clone of the loaded estimator refits the same model.
    refit = clone(loaded).set_params(verbose=0, validation_fraction=0).fit(table)
    np.testing.assert_array_equal(refit.transform(table), cli_codes)
    np.testing.assert_array_equal(loaded.transform(table), cli_codes)
    ae_cli("score", tmp_path / "run", "--data", data, "--out", tmp_path / "scores.csv")
    cli_scores = np.loadtxt(tmp_path / "scores.csv", delimiter=",", skiprows=1)[:, 1]
    # ae score fits the anomaly scorer on the run's training rows, as the detector does on X.
    detector = ae.AnomalyDetector.load(tmp_path / "run", X=table)
    np.testing.assert_allclose(detector.decision_function(table), cli_scores, rtol=1e-8)


def test_python_checkpoint_is_read_by_the_command_line(table, ae_cli, tmp_path):
    data = tmp_path / "x.npy"
    np.save(data, table)
    detector = ae.AnomalyDetector(contamination=0.05, **PY_PARAMS).fit(table)
    detector.save(tmp_path / "model.safetensors", data=data)
    ae_cli("encode", tmp_path / "model.safetensors", "--data", data, "--out", tmp_path / "c.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), detector.model_.encode(table))
    out = ae_cli("score", tmp_path / "model.safetensors", "--contamination", "0.05",
                 "--out", tmp_path / "scores.csv")  # the data and threshold from the checkpoint
    scores = np.loadtxt(tmp_path / "scores.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(scores[:, 1], detector.decision_scores_, rtol=1e-8)
    np.testing.assert_array_equal(scores[:, 2].astype(int), detector.labels_)
    line = next(l for l in out.splitlines() if l.startswith("dae (code 4)"))
    assert line.split()[3] == f"{detector.threshold_:.4f}"  # the same threshold
    # And back: the same estimator, threshold included.
    again = ae.AnomalyDetector.load(tmp_path / "model.safetensors")
    assert again.threshold_ == detector.threshold_ and again.contamination == 0.05
    np.testing.assert_array_equal(again.predict(table), detector.predict(table))


def test_save_refuses_an_unwritable_path_and_load_a_missing_file(table, tmp_path):
    model = ae.Autoencoder(random_state=0, **SMALL).fit(table)
    with pytest.raises(OSError, match="cannot"):
        model.save(tmp_path / "missing-folder" / "m.safetensors")
    with pytest.raises(FileNotFoundError, match="nothing.safetensors: cannot open"):
        ae.Autoencoder.load(tmp_path / "nothing.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"\x08" + b"\x00" * 7 + b"not json")
    with pytest.raises(ValueError, match="bad.safetensors"):
        ae.Autoencoder.load(tmp_path / "bad.safetensors")


def test_save_reads_the_data_file_before_writing(table, tmp_path):
    model = ae.Autoencoder(random_state=0, **SMALL).fit(table)
    out = tmp_path / "m.safetensors"
    with pytest.raises(FileNotFoundError, match=r"missing\.npy") as missing:
        model.save(out, data=tmp_path / "missing.npy")
    narrow = tmp_path / "narrow.npy"
    np.save(narrow, table[:, :4])
    with pytest.raises(ValueError, match=r"narrow\.npy has 4 features per sample, but the model "
                       r"was fitted on 12") as wrong:
        model.save(out, data=narrow)
    for e in (missing, wrong):
        assert "\n" not in str(e.value) and "Normalizer" not in str(e.value)
    assert not out.exists()  # nothing written
    np.save(tmp_path / "x.npy", table)
    model.save(out, data=tmp_path / "x.npy")
    assert out.exists()


def test_detector_load_needs_a_threshold_or_the_training_rows(table, tmp_path):
    ae.Autoencoder(random_state=0, **SMALL).fit(table).save(tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match=r"m\.safetensors: the checkpoint has no detector "
                       r"threshold \(written by Autoencoder.*X=") as e:
        ae.AnomalyDetector.load(tmp_path / "m.safetensors")
    assert "\n" not in str(e.value)
    # With the training rows, the threshold is the (1 - contamination) quantile of their scores.
    detector = ae.AnomalyDetector.load(tmp_path / "m.safetensors", X=table)
    scores = detector.decision_function(table)
    assert detector.threshold_ == pytest.approx(np.quantile(scores, 0.9), rel=1e-12)
    assert detector.predict(table).sum() == (scores > detector.threshold_).sum() == 30


def test_array_errors_are_one_line(table):
    model = ae.Autoencoder(random_state=0, **SMALL)
    nan = table.astype(np.float64)
    nan[3, 5] = np.nan
    cases = [
        (nan, ValueError, r"^X \(shape \(300, 12\), dtype float64\): Input X contains NaN$"),
        (table[:, 0], ValueError,
         r"^X \(shape \(300,\), dtype float32\): Expected 2D array, got 1D array instead; "
         r"Reshape your data"),
        (table.astype(np.complex128), ValueError,
         r"^X \(shape \(300, 12\), dtype complex128\): Complex data not supported"),
        (table * np.float64(1e300), ValueError,
         r"^X \(shape \(300, 12\), dtype float64\) holds -?[0-9.]+e\+300, beyond float32's "
         r"range"),
    ]
    for X, error, pattern in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no RuntimeWarning before the error
            with pytest.raises(error, match=pattern) as e:
                model.fit(X)
        assert "\n" not in str(e.value) and len(str(e.value)) < 300, str(e.value)
    # The value named is the largest in magnitude.
    big = table.astype(np.float64)
    big[7, 2] = -3e300
    with pytest.raises(ValueError, match=r"holds -3e\+300"):
        model.fit(big)
    fitted = ae.Autoencoder(random_state=0, **SMALL).fit(table)
    with pytest.raises(ValueError, match=r"^X \(shape \(2,\), dtype float64\): .*Reshape"):
        fitted.inverse_transform(np.zeros(2))


def test_defaults_are_quiet_and_contamination_matches_ae_score(table, capsys):
    assert ae.Autoencoder().verbose == 0 and ae.AnomalyDetector().verbose == 0
    ae.Autoencoder(hidden=(16,), code=4, epochs=2, random_state=0).fit(table)
    assert capsys.readouterr().err == ""
    # (0, 1), the range of ae score --contamination.
    detector = ae.AnomalyDetector(contamination=0.7, hidden=(16,), code=4, epochs=2,
                                  random_state=0).fit(table)
    assert detector.labels_.sum() == 210  # 70% of 300 rows lie above the 0.3 quantile
    for c in (0, 1, 1.5):
        with pytest.raises(ValueError, match=r"contamination must lie in \(0, 1\)"):
            ae.AnomalyDetector(contamination=c, **SMALL).fit(table)


# --- the models and settings -------------------------------------------------------------------
def test_vae_samples_and_decodes(table):
    vae = ae.Autoencoder("vae", hidden=(16,), code=2, epochs=3, random_state=0, verbose=0,
                         normalize="standardize").fit(table)
    assert vae.transform(table).shape == (300, 2)
    s = vae.sample(5, random_state=3)
    assert s.shape == (5, 12) and s.dtype == np.float32
    np.testing.assert_array_equal(vae.sample(5, random_state=3), s)
    assert vae.inverse_transform(np.zeros((1, 2), np.float32)).shape == (1, 12)
    with pytest.raises(ValueError, match="only a variational autoencoder"):
        ae.Autoencoder(random_state=0, **SMALL).fit(table).sample(2)


def test_errors_are_python_exceptions_with_aes_message(table):
    with pytest.raises(ValueError, match=r"--lr \(train.lr\) must be positive, got -1 \(parameter lr=-1"):
        ae.Autoencoder(lr=-1, **SMALL).fit(table)
    with pytest.raises(ValueError, match="model.kind.*'transformer'"):
        ae.Autoencoder("transformer", **SMALL).fit(table)
    with pytest.raises(ValueError, match="activation"):
        ae.Autoencoder(activation="swoosh", **SMALL).fit(table)
    model = ae.Autoencoder(random_state=0, **SMALL).fit(table)
    with pytest.raises(ValueError, match="X has 3 features, but Autoencoder is expecting 12"):
        model.transform(table[:, :3])
    with pytest.raises(ValueError, match="codes of width 3, the model's code has 4"):
        model.inverse_transform(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="contamination"):
        ae.AnomalyDetector(contamination=1.0, **SMALL).fit(table)


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int32),
                ("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16),
                ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p)]


def dlpack_capsule(array, device_type):
    """A DLPack capsule of the float32 matrix `array` that claims to lie on `device_type`
    (DLPack's numbering: 1 CPU, 2 CUDA, 4 OpenCL, ...), and what must outlive it."""
    shape = (ctypes.c_int64 * 2)(*array.shape)
    managed = _DLManagedTensor(_DLTensor(array.ctypes.data, _DLDevice(device_type, 0), 2, 2, 32, 1,
                                         shape, None, 0), None, None)
    new = ctypes.pythonapi.PyCapsule_New
    new.restype, new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p,
                                                    ctypes.c_void_p]
    return new(ctypes.addressof(managed), b"dltensor", None), (array, shape, managed)


def test_each_kind_of_engine_error_has_its_python_class(table, tmp_path):
    model = ae.Autoencoder(random_state=0, **SMALL).fit(table)
    # argument: a refused value -> ValueError.
    with pytest.raises(ValueError, match=r"^--lr \(train.lr\) must be positive"):
        ae.Autoencoder(lr=-1, **SMALL).fit(table)
    # data: a file whose contents are wrong -> ValueError.
    (tmp_path / "cut.npy").write_bytes(gzip.compress(b"\x93NUMPY" + bytes(4000))[:40])
    with pytest.raises(ValueError, match=r"cut\.npy: gzip stream is truncated"):
        model.save(tmp_path / "m.safetensors", data=tmp_path / "cut.npy")
    # type: an array ae cannot read -> TypeError.
    capsule, keep = dlpack_capsule(table, device_type=4)
    with pytest.raises(TypeError, match="^tensor_view: arrays on DLPack device type 4 are not "
                       r"supported \(CPU and CUDA are\)$"):
        _core.tensor_view(capsule)
    # file: OSError, the subclass Python gives the error's errno, which it carries; the message
    # is ae's.
    with pytest.raises(FileNotFoundError) as e:
        ae.Autoencoder.load(tmp_path / "nothing.safetensors")
    assert e.value.errno == errno.ENOENT
    missing = tmp_path / "nothing.safetensors"
    assert str(e.value) == f"{missing}: cannot open: No such file or directory"
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(NotADirectoryError, match="cannot create temporary file") as e:
        model.save(tmp_path / "file" / "m.safetensors")
    assert e.value.errno == errno.ENOTDIR
    (tmp_path / "folder").mkdir()
    with pytest.raises(IsADirectoryError, match="cannot rename"):
        model.save(tmp_path / "folder")
    with pytest.raises(OSError, match="^/dev/null: cannot open: not a regular file$") as e:
        ae.Autoencoder.load("/dev/null")
    assert type(e.value) is OSError and e.value.errno is None
    # state: a model without what the call needs -> scikit-learn's NotFittedError.
    with pytest.raises(NotFittedError, match="^decision_function: the model has no anomaly scorer"):
        model.model_.anomaly_scores(table)


def test_device_argument(table):
    model = ae.Autoencoder(device="cpu", random_state=0, **SMALL).fit(table)
    assert model.device_ == "cpu"
    if ae.cuda_device_count() == 0:
        with pytest.raises(ValueError, match="--device cuda.*no usable CUDA device"):
            ae.Autoencoder(device="cuda", random_state=0, **SMALL).fit(table)
    else:
        gpu = ae.Autoencoder(device="cuda", random_state=0, **SMALL).fit(table)
        assert gpu.device_ == "cuda:0"
        np.testing.assert_allclose(gpu.transform(table), model.transform(table), atol=1e-3)
    with pytest.raises(ValueError, match="device"):
        ae.Autoencoder(device="tpu", random_state=0, **SMALL).fit(table)


def test_history_and_progress(table, capsys):
    model = ae.Autoencoder("sparse", hidden=(16,), epochs=2, batch_size=32, random_state=0, verbose=1,
                           validation_fraction=0.2).fit(table)
    rows = model.history_ if isinstance(model.history_, list) else model.history_.to_dict("records")
    assert [r["epoch"] for r in rows] == [1, 2]
    assert {"train_total", "train_reconstruction", "train_penalty", "val_total", "lr"} <= set(rows[0])
    assert rows[1]["steps"] == 2 * 8  # 240 training rows in batches of 32
    err = capsys.readouterr().err
    try:
        import tqdm  # noqa: F401 - a bar named after the estimator
        assert "Autoencoder" in err
    except ImportError:  # one line per epoch
        assert "Autoencoder: epoch 2/2  train_total" in err
    ae.Autoencoder(random_state=0, **SMALL).fit(table)
    assert capsys.readouterr().err == ""  # verbose=0 prints nothing


def test_ctrl_c_stops_after_the_batch_and_leaves_a_usable_model(table):
    batches = []

    def interrupt_at_third(samples):
        batches.append(samples)
        if len(batches) == 3:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, handled by Python's handler

    model = ae.Autoencoder(random_state=0, **{**SMALL, "epochs": 50})
    import ae._base as est

    original = est._Progress.batch
    est._Progress.batch = lambda self, samples: interrupt_at_third(samples)
    try:
        with warnings.catch_warnings(record=True) as caught, pytest.raises(KeyboardInterrupt):
            warnings.simplefilter("always")
            model.fit(table)
    finally:
        est._Progress.batch = original
    assert len(batches) <= 4  # it stopped at the next batch boundary, not after 50 epochs
    assert any("stopped after 0 finished epochs" in str(w.message) for w in caught)
    codes = model.transform(table)
    assert codes.shape == (300, 4) and np.isfinite(codes).all()


# --- detection quality -------------------------------------------------------------------------
def test_detector_held_out_auc_at_least_pcas():
    X, y = anomaly_table(seed=0)
    train, test = np.arange(len(y)) < 800, np.arange(len(y)) >= 800
    detector = ae.AnomalyDetector(contamination=0.1, hidden=(32,), code=2, activation="tanh",
                                  code_activation="identity", epochs=100,
                                  normalize="standardize", random_state=0, verbose=0)
    detector.fit(X[train])
    auc = roc_auc_score(y[test], detector.decision_function(X[test]))
    # The baseline: PCA with the same code width on the same standardised rows, scored by its
    # reconstruction error.
    scaler = StandardScaler().fit(X[train])
    pca = PCA(n_components=2).fit(scaler.transform(X[train]))
    Z = scaler.transform(X[test])
    pca_auc = roc_auc_score(y[test], ((pca.inverse_transform(pca.transform(Z)) - Z) ** 2).sum(1))
    print(f"\n[ measured ] held-out ROC AUC: ae {auc:.4f}, PCA {pca_auc:.4f}")
    # Measured 0.978 vs 0.848; the curve is what a linear model cannot follow.
    assert auc >= pca_auc + 0.05
    assert detector.labels_.mean() == pytest.approx(0.1, abs=0.01)
    proba = detector.predict_proba(X[test])
    assert proba.shape == (int(test.sum()), 2)
    np.testing.assert_allclose(proba.sum(1), 1)
    np.testing.assert_array_equal(detector.predict(X[test]),
                                  (detector.decision_function(X[test]) > detector.threshold_))


# --- scikit-learn --------------------------------------------------------------------------------
def test_pipeline_and_grid_search(table):
    pipe = make_pipeline(StandardScaler(), ae.Autoencoder(random_state=0, **SMALL))
    assert pipe.fit_transform(table).shape == (300, 4)
    search = GridSearchCV(ae.Autoencoder(random_state=0, **SMALL),
                          {"code": [2, 6], "model": ["ae", "dae"]}, cv=2)
    search.fit(table)
    assert search.best_params_["code"] == 6  # a wider code reconstructs better
    assert search.best_estimator_.transform(table).shape == (300, 6)


def test_default_code_is_ae_trains_whatever_the_width():
    # code=None is ae train's preset (the same settings, the same model as the command line),
    # not a rule on the width of X: a 6-feature table gets the preset's 16 unless code is given.
    import json
    X = np.random.RandomState(0).rand(50, 6).astype(np.float32)
    for model in ("ae", "sparse", "vae"):
        preset = json.loads(_core.preset_json(model))["model"]["code"]
        fitted = ae.Autoencoder(model, hidden=(8,), epochs=1, random_state=0).fit(X)
        assert fitted.transform(X).shape == (50, preset)
    narrow = ae.Autoencoder(hidden=(8,), code=3, epochs=1, random_state=0).fit(X)
    assert narrow.transform(X).shape == (50, 3)


def test_default_model_follows_the_data_in_python_and_on_the_command_line(table, ae_cli, tmp_path):
    # A table of 12 features: code round(√12) = 3, one hidden layer of max(2·3, min(12, 64)).
    detector = ae.AnomalyDetector(random_state=0, epochs=2).fit(table)
    assert detector.model_choice_.startswith("a table of 12 features"), detector.model_choice_
    config = json.loads(detector.model_.config_json)
    assert config["model"]["kind"] == "ae" and config["model"]["code"] == 3
    assert config["model"]["hidden"] == [12] and config["data"]["normalize"] == "standardize"
    assert ae.AnomalyDetector(model="vae", random_state=0, epochs=1).fit(table).model_choice_ == ""
    # ae train prints the choice and records it in the run's config.json.
    np.save(tmp_path / "x.npy", table)
    out = ae_cli("train", "--data", tmp_path / "x.npy", "--epochs", "1", "--out", tmp_path / "run",
                 "--no-pictures")
    assert "--model auto: a table of 12 features" in out
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["model"]["kind"] == "ae" and saved["model"]["code"] == 3
    assert saved["resolved"]["model"].startswith("a table of 12 features")


def test_predict_proba_follows_pyods_methods_and_survives_save_and_load(table, tmp_path):
    from scipy.special import erf
    detector = ae.AnomalyDetector(random_state=0, **SMALL).fit(table)
    s, train = detector.decision_function(table), detector.decision_scores_
    linear = np.clip((s - train.min()) / (train.max() - train.min()), 0, 1)
    unify = np.clip(erf((s - train.mean()) / (train.std() * np.sqrt(2))), 0, 1)
    np.testing.assert_allclose(detector.predict_proba(table)[:, 1], linear, rtol=1e-12)
    np.testing.assert_allclose(detector.predict_proba(table, method="unify")[:, 1], unify,
                               rtol=1e-12)
    np.testing.assert_allclose(detector.predict_proba(table).sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="'linear' or 'unify', got 'rank'"):
        detector.predict_proba(table, method="rank")
    # The threshold and the 0.5 of a probability are different rules (see the docstring).
    flagged, likely = detector.predict(table).sum(), (detector.predict_proba(table)[:, 1] > 0.5).sum()
    assert flagged == round(0.1 * len(table)) and likely != flagged
    detector.save(tmp_path / "d.safetensors")
    again = ae.AnomalyDetector.load(tmp_path / "d.safetensors")
    for method in ("linear", "unify"):
        np.testing.assert_array_equal(again.predict_proba(table, method=method),
                                      detector.predict_proba(table, method=method))
