"""A Great Expectations expectation that understands pandas 3 dtypes.

GX 1.24's ``expect_column_values_to_be_in_type_list`` compares a pandas column dtype with
numpy/pandas *types* built from the names in ``type_list``. pandas 3 extension dtypes have no
such type: the default text dtype ``str`` (``StringDtype(na_value=nan)``) and tz-aware
timestamps (``datetime64[us, UTC]``) can never match, so every text or UTC timestamp column
fails. :class:`ExpectColumnValuesToBeInDtypeList` is the same expectation (same metrics, same
value-by-value check for ``object`` columns) that also accepts a column whose dtype, as pandas
prints it, is listed in ``type_list``, and reports that printed dtype as the observed value.

Importing this module imports GX and registers the expectation type
``expect_column_values_to_be_in_dtype_list`` (needed before a suite using it is loaded).
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations.expectations as gxe


class ExpectColumnValuesToBeInDtypeList(gxe.ExpectColumnValuesToBeInTypeList):
    """Expect a column's dtype (or, for ``object`` columns, each value's type) to be listed.

    Names in ``type_list`` are numpy/pandas dtype names as pandas prints them (``float64``,
    ``Int64``, ``str``, ``datetime64[us, UTC]``, ``category``) or Python element types
    (``int``, ``float``, ``str``) for ``object`` columns, which are checked value by value.
    """

    def _validate_pandas(self, actual_column_type: Any, expected_types_list: Any) -> dict:
        outcome = super()._validate_pandas(actual_column_type, expected_types_list)
        printed = str(actual_column_type)
        if expected_types_list is not None and printed in expected_types_list:
            outcome["success"] = True
        outcome["result"]["observed_value"] = printed
        return outcome
