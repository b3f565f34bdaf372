"""The sktime adapter: ``LogSparseTransformerForecaster``.

It checks what sktime hands it, turns containers into per-series arrays
(:mod:`._dataset`), and delegates training (:mod:`._training`) and sampling
(:mod:`._sampling`); all outputs come from one set of sample paths
(:mod:`._outputs`). No tensor maths here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sktime.forecasting.base import BaseForecaster

from . import _predicting as predicting
from ._arrays import training_arrays
from ._checks import check_after, check_sorted, check_X, check_y
from ._dataset import FittedPanel, choose_layout, n_covariates, series_ids
from ._model import build_model, mixed_precision, resolve_device, seed_for
from ._outputs import PathCache, SamplePaths, Summary
from ._panel import regularise, series_keys, split_instances
from ._params import Settings, resolve_params, sktime_test_params
from ._persistence import load_model, save_model
from ._threads import CallLock, serialised, threads_for
from ._training import fit_model
from ._transaction import atomic
from ._windows import WindowLayout

__all__ = ["LogSparseTransformerForecaster"]


class LogSparseTransformerForecaster(BaseForecaster):
    """Convolutional LogSparse Transformer: a global probabilistic forecaster.

    One decoder-only Transformer (Li et al., 2019) is trained on windows drawn
    from every series given to ``fit`` (or ``pretrain``): each column of each
    instance of a panel or hierarchy is one series of the same global model.
    Queries and keys come from a causal convolution, attention is truly sparse
    (each step attends to O(log L) earlier steps), and every step outputs the
    parameters of a predictive distribution. Forecasts are sample paths drawn
    by ancestral sampling; point forecasts, quantiles, intervals, variances and
    ``predict_proba`` all come from the same paths.

    Inputs at step t are ``z_{t-1}`` and further lags (scaled by the window's
    conditioning range), calendar features, the series' age and id embedding,
    and the columns of ``X`` (known in advance: ``predict`` then needs ``X``
    over the horizon). Missing values (NaN) in ``y`` are allowed.

    Parameters
    ----------
    context_length : int or None, default=None
        Conditioning range of the training windows. None: seven seasons of the
        index frequency (168 for hourly data), or ``4 * prediction_length``
        without a season, at most the median series length. Longer than the
        longest series less ``prediction_length``: clipped, with a warning.
    prediction_length : int or None, default=None
        Prediction range of the training windows. None: the largest step of
        the ``fh`` given to ``fit``, else one season, else 8. Longer horizons
        are decoded in chunks of this length.
    d_model : int, default=32
        Model width.
    n_heads : int, default=4
        Attention heads; must divide ``d_model``.
    n_layers : int, default=3
        Decoder blocks.
    kernel_size : int, default=6
        Kernel of the causal query/key convolution; 1 is canonical attention.
    attention : str, default="logsparse"
        ``"logsparse"``, ``"local"``, ``"restart"``, ``"local_restart"`` or
        ``"full"`` (see :func:`sktime_logsparse.nn.make_pattern`).
    dropout : float, default=0.1
        Dropout on embeddings, attention and residual branches.
    likelihood : str, default="gaussian"
        ``"gaussian"``, ``"student_t"`` or ``"negative_binomial"`` (counts).
    scaling : "auto", "standard", "mean" or None, default="auto"
        How each window is scaled, from its conditioning range only:
        "standard" by its mean and standard deviation, "mean" by
        ``1 + mean |z|`` (DeepAR's), None not at all. "auto": the
        likelihood's choice ("standard"; "mean" for counts).
    lags : "auto", list of int or None, default="auto"
        Lagged targets fed to each step besides ``z_{t-1}``. "auto": ``z_{t-2}``,
        one season back and its neighbours, two seasons back, and for
        sub-daily data spanning two weeks one week back and its neighbours;
        None: only ``z_{t-1}``, as in the paper.
    max_epochs : int, default=50
        Training epochs at most.
    batch_size : int, default=64
        Windows per gradient step.
    learning_rate : float, default=5e-4
        Adam step size.
    windows_per_epoch : int or None, default=None
        Windows drawn per epoch; None: as many as there are candidate windows.
    early_stopping_patience : int or None, default=5
        Epochs without improvement of the validation score (on the last
        ``prediction_length`` points of each series, a few such ranges for few
        series, never trained on) before training stops; the best weights are
        kept. None: no early stopping (the range still calibrates).
    max_fit_seconds : float or None, default=None
        Wall-time budget of one training run; it then ends with the best
        weights so far.
    fine_tune_epochs : int, default=0
        After ``pretrain``: epochs of training on the series given to ``fit``;
        0 is zero-shot (``fit`` only sets the context).
    num_samples : int, default=100
        Sample paths per series at prediction.
    point_forecast : str, default="mean"
        ``predict`` returns the ``"mean"`` or the ``"median"`` of the paths.
    device : str, default="auto"
        ``"auto"`` (cuda, then mps, then cpu), ``"cpu"``, ``"cuda"``, ...
    n_threads : int or None, default=None
        CPU threads of a call, restored after it: torch's intra-op threads in
        ``fit``; in ``predict``, decoding threads of one intra-op thread each
        (one per series at most). None: ``OMP_NUM_THREADS`` or the user's
        ``torch.set_num_threads``, else 1 in ``fit``, ``min(2, cores)`` in
        ``predict``. ``random_state`` repeats training for a fixed value.
    random_state : int or None, default=None
        Seed of weights, window sampling, dropout and sample paths. The global
        torch and numpy random states are left untouched either way.
    verbose : bool, default=False
        Show a progress bar with the losses during training.
    model_kwargs : dict or None, default=None
        Further model settings: ``local_window``, ``sub_len`` (local and
        restart patterns; None: from the window length), ``linear_ar`` (True:
        a linear autoregression fitted by least squares under the Transformer),
        ``time_features`` ("auto" or None), ``series_embedding`` (True: id embedding).
    trainer_kwargs : dict or None, default=None
        Further training settings: ``weight_decay`` (0.0), ``gradient_clip``
        (1.0, None for none), ``early_stopping_metric`` ("crps" of sampled
        forecasts, or "nll"), ``window_sampling`` ("uniform", or "scale" as
        DeepAR), ``lr_schedule`` (None, "cosine" or "plateau"),
        ``update_epochs`` (1: epochs of ``update(update_params=True)``),
        ``calibration`` ("per_step": after training, each tail of the
        forecasts is widened per horizon step, out to the ``fh`` of ``fit``,
        for its quantiles to hold on the validation range; "per_group": so,
        per group of forecasts by spread on a large panel; None: raw
        spread), ``shard_series`` (False; see "Scale out"), ``micro_batch_size``
        (None: windows per pass, the whole batch unless its activations would
        pass 512 MiB, e.g. at long contexts; gradients accumulated either way),
        ``precision`` ("32", or "bf16-mixed": bfloat16 autocast in fit and
        predict, weights and likelihood in float32), ``ema_decay`` (0.99: keep
        a moving average of the steps' weights; None: the last step's).

    Attributes
    ----------
    model_ : GlobalModel
        The trained network and its window layout.
    training_history_ : list of dict
        Per epoch: ``train_loss``, ``val_loss`` and ``seconds`` since training began.
    calibration_ : np.ndarray, GroupedFactors or None
        Factors widening the forecast spread, per quantile level and horizon
        step; on a large panel per group of forecasts by spread (None: none).

    References
    ----------
    .. [1] Li, S., Jin, X., Xuan, Y., Zhou, X., Chen, W., Wang, Y.-X. and Yan, X.
       (2019). Enhancing the Locality and Breaking the Memory Bottleneck of
       Transformer on Time Series Forecasting. NeurIPS 2019, arXiv:1907.00235.

    Examples
    --------
    >>> from sktime.datasets import load_airline
    >>> from sktime_logsparse import LogSparseTransformerForecaster
    >>> y = load_airline()
    >>> f = LogSparseTransformerForecaster(
    ...     context_length=24, d_model=16, n_heads=2, n_layers=2,
    ...     max_epochs=2, num_samples=20, random_state=0,
    ... )
    >>> f.fit(y, fh=[1, 2, 3])
    LogSparseTransformerForecaster(...)
    >>> y_pred = f.predict()
    >>> q = f.predict_quantiles(alpha=[0.1, 0.9])
    """

    _tags = {
        # packaging info
        "authors": ["sktime-logsparse developers"],
        "maintainers": ["sktime-logsparse developers"],
        "python_dependencies": ["torch"],
        # estimator type
        "y_inner_mtype": ["pd.DataFrame", "pd-multiindex", "pd_multiindex_hier"],
        "X_inner_mtype": ["pd.DataFrame", "pd-multiindex", "pd_multiindex_hier"],
        "capability:multivariate": True,
        "capability:exogenous": True,
        "capability:categorical_in_X": False,
        "capability:missing_values": True,
        "capability:insample": False,
        "capability:pred_int": True,
        "capability:pred_int:insample": False,
        "capability:pretrain": True,
        "capability:update": True,
        "capability:random_state": True,
        "property:randomness": "derandomized",
        "requires-fh-in-fit": False,
        "X-y-must-have-same-index": True,
    }
    # no copy of the data in sktime's _y, _X: the FittedPanel holds the series
    _config = {"remember_data": False}
    _y = _X = None  # read by sktime's tests after set_config(remember_data=True)

    def __init__(
        self,
        context_length=None,
        prediction_length=None,
        d_model=32,
        n_heads=4,
        n_layers=3,
        kernel_size=6,
        attention="logsparse",
        dropout=0.1,
        likelihood="gaussian",
        scaling="auto",
        lags="auto",
        max_epochs=50,
        batch_size=64,
        learning_rate=5e-4,
        windows_per_epoch=None,
        early_stopping_patience=5,
        max_fit_seconds=None,
        fine_tune_epochs=0,
        num_samples=100,
        point_forecast="mean",
        device="auto",
        n_threads=None,
        random_state=None,
        verbose=False,
        model_kwargs=None,
        trainer_kwargs=None,
    ):
        self.context_length = context_length
        self.prediction_length = prediction_length
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.kernel_size = kernel_size
        self.attention = attention
        self.dropout = dropout
        self.likelihood = likelihood
        self.scaling = scaling
        self.lags = lags
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.windows_per_epoch = windows_per_epoch
        self.early_stopping_patience = early_stopping_patience
        self.max_fit_seconds = max_fit_seconds
        self.fine_tune_epochs = fine_tune_epochs
        self.num_samples = num_samples
        self.point_forecast = point_forecast
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose
        self.model_kwargs = model_kwargs
        self.trainer_kwargs = trainer_kwargs
        super().__init__()

    # ------------------------------------------------------------------ fit
    def fit(self, y, X=None, fh=None):  # noqa: D102 (sktime's docstring)
        # a refit that fails (bad data, diverged, Ctrl-C) keeps the fitted model
        check_sorted("fit", y=y, X=X)
        with atomic(self), threads_for(self):
            return super().fit(y, X=X, fh=fh)

    fit.__doc__ = BaseForecaster.fit.__doc__

    def update(self, y, X=None, update_params=True):  # noqa: D102
        # sktime moves the cutoff first: a failed update must move it back
        check_sorted("update", y=y, X=X)
        with atomic(self, mutated=("_panel", "model_")), threads_for(self):
            return super().update(y, X=X, update_params=update_params)

    update.__doc__ = BaseForecaster.update.__doc__

    def _pretrain(self, y, X=None, fh=None):
        s = self._settings()
        check_y(y, likelihood=s.likelihood_, method="pretrain", train=True)
        X = check_X(X, method="pretrain", index=y.index)
        instances = self._setup(y, X, fh, s)
        keys = series_keys(instances, y.columns)
        ids = series_ids(len(keys), s.series_embedding)
        self.series_ids_ = {k: int(i) for k, i in zip(keys, ids, strict=True) if i >= 0}
        self.pretrained_model_ = self._new_model(s, ids)
        panel = FittedPanel.build(instances, ids, s.likelihood_.integer_data, y)
        with threads_for(self):
            self._train(self.pretrained_model_, panel, s)
        return self

    def _fit(self, y, X=None, fh=None):
        s = self._settings()
        pretrained = hasattr(self, "pretrained_model_")
        train = not pretrained or s.fine_tune_epochs > 0
        check_y(y, likelihood=s.likelihood_, train=train)
        if pretrained:
            if (X is None) != (self.exog_scaler_ is None):
                had = "with" if self.exog_scaler_ is not None else "without"
                raise ValueError(
                    "X must be given to fit exactly when it was given to pretrain "
                    f"(pretrain was {had} X)"
                )
            X = check_X(X, columns=self._exog_columns(), index=y.index)
            instances = self._split(y, X)
            keys = series_keys(instances, y.columns)
            ids = np.array([self.series_ids_.get(k, -1) for k in keys], dtype=np.int64)
            # a copy, so that every refit starts again from the pretrained weights
            self.model_ = self.pretrained_model_.copy().to(resolve_device(s.device))
        else:
            X = check_X(X, index=y.index)
            instances = self._setup(y, X, fh, s)
            ids = series_ids(len(instances) * y.shape[1], s.series_embedding)
            self.model_ = self._new_model(s, ids)
        self._panel = FittedPanel.build(instances, ids, s.likelihood_.integer_data, y)
        # zero-shot (fine_tune_epochs=0) trains nothing but calibrates on y
        epochs = s.fine_tune_epochs if pretrained else None
        self.calibration_ = self._train(self.model_, self._panel, s, epochs)
        # one seed per fitted model: repeated predict calls give the same paths
        self._predict_seed = seed_for(s.random_state, "predict")
        self._path_cache = PathCache()
        self._call_lock = CallLock()
        return self

    def _update(self, y, X=None, update_params=True):
        s = self._settings()
        panel = self._panel
        check_y(
            y,
            likelihood=s.likelihood_,
            method="update",
            columns=panel.columns,
            require_observed=False,
        )
        X = check_X(X, method="update", columns=self._exog_columns(), index=y.index)
        new = self._split(y, X)
        check_after(new, panel.instances, "update")
        self._path_cache = PathCache()  # new data (and weights): new paths
        panel.extend(self.time_axis_, new, s.likelihood_.integer_data)
        if update_params and s.update_epochs > 0:
            self.calibration_ = self._train(self.model_, panel, s, s.update_epochs)
        return self

    def _settings(self) -> Settings:  # ValueError/TypeError naming a bad one
        settings = resolve_params(self.get_params(deep=False))
        resolve_device(settings.device)
        return settings

    def _setup(self, y, X, fh, s: Settings) -> list:
        """Choose time axis, window layout and covariates; return the instances."""
        fh_max = None if fh is None else int(max(fh.to_relative(self.cutoff)))
        choice, instances = choose_layout(y, X, fh_max, s)
        self.time_axis_, self.exog_scaler_ = choice.axis, choice.exog_scaler
        self.context_length_ = choice.context_length
        self.prediction_length_ = choice.prediction_length
        self.lags_ = choice.lags
        return instances

    def _split(self, y, X) -> list:
        return [regularise(self.time_axis_, i) for i in split_instances(y, X)]

    def _new_model(self, s: Settings, ids: np.ndarray):
        layout = WindowLayout(
            self.context_length_,
            self.prediction_length_,
            self.lags_,
            s.scaling_,
            n_covariates(self.time_axis_, self.exog_scaler_),
        )
        n_series = int(ids.max()) + 1  # a row of the id embedding per id >= 0
        return build_model(s, layout, n_series, seed_for(s.random_state, "init"))

    def _train(self, model, panel: FittedPanel, s: Settings, epochs=None):
        """Train ``model`` (``epochs`` given: fine-tune/update); its calibration."""
        values, covs = training_arrays(
            self.time_axis_, self.exog_scaler_, panel.instances, panel.factors
        )
        config = s.train_config(epochs, self._fh, self.cutoff)
        seed = seed_for(s.random_state, "train")
        with mixed_precision(model, s.precision):
            result = fit_model(model, values, covs, panel.ids, seed, config)
        self.training_history_ = result.history
        return result.calibration

    def _exog_columns(self) -> list | None:  # None: fitted without X
        return None if self.exog_scaler_ is None else list(self.exog_scaler_.columns)

    # -------------------------------------------------------------- predict
    # sktime keeps the horizon of a call on the instance: one call at a time
    predict = serialised(BaseForecaster.predict)
    predict_quantiles = serialised(BaseForecaster.predict_quantiles)
    predict_interval = serialised(BaseForecaster.predict_interval)
    predict_var = serialised(BaseForecaster.predict_var)
    predict_proba = serialised(BaseForecaster.predict_proba)

    def _predict(self, fh, X=None):
        median = self.point_forecast == "median"
        return predicting.summary(self, fh, X, Summary("median" if median else "mean"))

    def _predict_var(self, fh, X=None, cov=False):
        """Variance of the paths (divisor ``num_samples``); ``cov``: of each series."""
        steps = pd.Index(fh.to_pandas())
        what = Summary("cov", steps=steps) if cov else Summary("var")
        return predicting.summary(self, fh, X, what)

    def _predict_proba(self, fh, X=None, marginal=True):
        """The paths' skpro ``Empirical`` (no density: score by CRPS, not LogLoss)."""
        X = check_X(X, method="predict", columns=self._exog_columns())
        return self._paths(fh, X).distribution(marginal)

    def _predict_quantiles(self, fh, X, alpha):
        columns = self._get_columns(method="predict_quantiles", alpha=alpha)
        what = Summary("quantiles", tuple(alpha), columns)
        return predicting.summary(self, fh, X, what)

    def _paths(self, fh, X) -> SamplePaths:
        """The paths at ``fh``, cached by cutoff, horizon and ``X`` (never saved)."""
        key = predicting.key(self, fh, X)
        return predicting.cache(self).get(key, lambda: self._sample_paths(fh, X))

    def _sample_paths(self, fh, X) -> SamplePaths:
        """Draw the paths of every series at ``fh``, widened as calibrated."""
        (paths,) = predicting.path_blocks(self, fh, X)  # one block: every series
        return paths

    # ---------------------------------------------------------- persistence

    def save_model(self, path: str | Path) -> Path:
        """Save to the folder ``path`` (safetensors and JSON, no pickle); return it.

        :meth:`load_model` runs no code from the files and checks them first.
        """
        return save_model(self, path)

    @classmethod
    def load_model(
        cls, path: str | Path, device: str | None = None
    ) -> LogSparseTransformerForecaster:
        """Load a forecaster saved with :meth:`save_model` from the folder ``path``.

        ``device`` (e.g. ``"cpu"`` for a model trained on a GPU) also becomes
        the ``device`` parameter; None keeps the saved one. The forecaster
        predicts, updates and refits as the saved one did.
        """
        return load_model(path, cls=cls, device=device)

    # ---------------------------------------------------------- test params

    @classmethod
    def get_test_params(cls, parameter_set="default"):
        """Two tiny, fast configurations (a list of dicts) for sktime's tests."""
        return sktime_test_params()
