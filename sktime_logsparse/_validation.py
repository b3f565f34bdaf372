"""Validation of the forecaster's hyperparameters (run at fit time)."""

from __future__ import annotations

import math
import numbers

from .nn import KINDS, LIKELIHOODS


def check_params(est) -> None:
    """Validate the hyperparameters of a forecaster, with clear messages.

    Raises
    ------
    ValueError, TypeError
        Naming the parameter, the expected values and the value given.
    """
    _check_int(est, "context_length", 1, optional=True)
    _check_int(est, "prediction_length", 1, optional=True)
    for name in ("d_model", "n_heads", "n_layers", "kernel_size", "batch_size"):
        _check_int(est, name, 1)
    for name in ("max_epochs", "fine_tune_epochs", "update_epochs"):
        _check_int(est, name, 0)
    _check_int(est, "num_samples", 1)
    _check_int(est, "windows_per_epoch", 1, optional=True)
    _check_int(est, "early_stopping_patience", 0, optional=True)
    _check_int(est, "local_window", 0, optional=True)
    _check_int(est, "sub_len", 1, optional=True)
    if est.d_model % est.n_heads:
        raise ValueError(
            f"d_model ({est.d_model}) must be divisible by n_heads ({est.n_heads})"
        )
    if est.lags not in ("auto", None) and (
        not isinstance(est.lags, (list, tuple))
        or not all(
            isinstance(lag, numbers.Integral) and not isinstance(lag, bool) and lag >= 1
            for lag in est.lags
        )
    ):
        raise ValueError(
            f"lags must be 'auto', None or a list of ints >= 1, got {est.lags!r}"
        )
    _check_choice(est, "attention", KINDS)
    _check_choice(est, "likelihood", tuple(LIKELIHOODS))
    _check_choice(est, "time_features", ("auto", None))
    _check_choice(est, "scaling", ("mean", None))
    _check_choice(est, "window_sampling", ("uniform", "scale"))
    _check_choice(est, "lr_schedule", (None, "cosine", "plateau"))
    _check_float(est, "dropout", 0.0, 1.0, upper_open=True)
    _check_float(est, "learning_rate", 0.0, math.inf, lower_open=True)
    _check_float(est, "weight_decay", 0.0, math.inf)
    if est.gradient_clip is not None:
        _check_float(est, "gradient_clip", 0.0, math.inf, lower_open=True)
    if est.max_fit_seconds is not None:
        _check_float(est, "max_fit_seconds", 0.0, math.inf, lower_open=True)
    if est.random_state is not None and not isinstance(
        est.random_state, numbers.Integral
    ):
        raise TypeError(
            f"random_state must be an int or None, got {est.random_state!r}"
        )


def _check_int(obj, name: str, low: int, optional: bool = False) -> None:
    value = getattr(obj, name)
    if value is None and optional:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < low
    ):
        expected = f"an int >= {low}" + (" or None" if optional else "")
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def _check_float(obj, name, low, high, lower_open=False, upper_open=False) -> None:
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    too_low = value <= low if lower_open else value < low
    too_high = value >= high if upper_open else value > high
    if too_low or too_high or math.isnan(value):
        lo, hi = "(" if lower_open else "[", ")" if upper_open else "]"
        raise ValueError(f"{name} must be in {lo}{low}, {high}{hi}, got {value!r}")


def _check_choice(obj, name: str, choices: tuple) -> None:
    value = getattr(obj, name)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
