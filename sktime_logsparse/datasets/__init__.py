"""Real data sets shipped with the package, as sktime ``pd-multiindex`` panels."""

from sktime_logsparse.datasets._m4 import (
    HORIZON,
    SEASONALITY,
    load_m4_hourly,
    load_m4_hourly_split,
)

__all__ = ["HORIZON", "SEASONALITY", "load_m4_hourly", "load_m4_hourly_split"]
