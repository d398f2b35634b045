"""The scikit-learn Pipeline a model is trained in: preprocessing by column kind + estimator."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from retrainer.config.core import ColumnsSection, EstimatorSection, build_estimator
from retrainer.config.training import PreprocessingSection

MISSING_CATEGORY = "__missing__"


def build_preprocessor(
    columns: ColumnsSection, preprocessing: PreprocessingSection | None = None
) -> ColumnTransformer:
    """Column-wise preprocessing: impute (and scale) numerics, impute and encode categoricals.

    Args:
        columns: Which columns are numeric and categorical.
        preprocessing: Options; defaults when omitted.

    Returns:
        An unfitted ColumnTransformer that drops every other column.
    """
    prep = preprocessing or PreprocessingSection()
    transformers: list[tuple[str, Any, list[str]]] = []
    if columns.numeric:
        strategy = "constant" if prep.numeric_impute == "zero" else prep.numeric_impute
        steps: list[tuple[str, Any]] = [
            ("impute", SimpleImputer(strategy=strategy, fill_value=0.0, keep_empty_features=True))
        ]
        if prep.scale_numeric:
            steps.append(("scale", StandardScaler()))
        transformers.append(("numeric", Pipeline(steps), list(columns.numeric)))
    if columns.categorical:
        if prep.categorical_encoding == "onehot":
            encoder: Any = OneHotEncoder(
                handle_unknown="infrequent_if_exist"
                if prep.min_category_frequency is not None
                else "ignore",
                min_frequency=prep.min_category_frequency,
                sparse_output=False,
            )
        else:
            encoder = OrdinalEncoder(
                handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1
            )
        # SimpleImputer treats NaN, None and pandas' missing strings alike, so the
        # pipeline only holds scikit-learn types (skops loads it without custom trust).
        cat_steps = [
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            ("encode", encoder),
        ]
        transformers.append(("categorical", Pipeline(cat_steps), list(columns.categorical)))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def build_pipeline(
    columns: ColumnsSection,
    estimator: EstimatorSection,
    preprocessing: PreprocessingSection | None = None,
) -> Pipeline:
    """Preprocessing plus the configured estimator, as one Pipeline (``model`` is the last step)."""
    return Pipeline(
        [
            ("preprocess", build_preprocessor(columns, preprocessing)),
            ("model", build_estimator(estimator)),
        ]
    )


def predict_scores(model: Any, frame: pd.DataFrame, task: str) -> tuple[np.ndarray, np.ndarray]:
    """Scores and hard predictions of a fitted model.

    Args:
        model: A fitted pipeline.
        frame: Feature rows.
        task: binary, multiclass or regression.

    Returns:
        ``(scores, labels)``: binary → P(positive class) and labels; multiclass → the
        probability matrix and labels; regression → predictions twice.
    """
    if task == "regression":
        pred = np.asarray(model.predict(frame), dtype=float)
        return pred, pred
    proba = np.asarray(model.predict_proba(frame), dtype=float)
    classes = np.asarray(model.classes_)
    labels = classes[np.argmax(proba, axis=1)]
    if task == "binary":
        return proba[:, -1], labels
    return proba, labels
