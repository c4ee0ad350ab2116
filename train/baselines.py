"""KNN and SVM baselines (scikit-learn) with hyper-parameters chosen by cross-validation on the
training split only; the fitted Pipeline (scaler + classifier) is what export converts.
"""
from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from auroral.edge.errors import UserError

log = logging.getLogger(__name__)


def _grid(model: str, seed: int, smallest_fold_train: int) -> tuple[Any, dict[str, list]]:
    if model == "knn":
        neighbours = [k for k in (1, 3, 5, 7, 11, 15) if k <= smallest_fold_train] or [1]
        return KNeighborsClassifier(), {"clf__n_neighbors": neighbours, "clf__weights": ["uniform", "distance"]}
    svc = SVC(kernel="rbf", probability=True, class_weight="balanced", random_state=seed)
    return svc, {"clf__C": [0.1, 1.0, 10.0, 100.0], "clf__gamma": ["scale", 1e-3, 1e-4]}


def fit_baseline(model: str, x: np.ndarray, y: np.ndarray, num_classes: int, seed: int) -> tuple[Pipeline, dict]:
    """Grid search (stratified k-fold, macro-F1) on the training features; returns the refitted best Pipeline."""
    counts = np.bincount(y, minlength=num_classes)
    if counts.min() < 2:
        missing = [str(i) for i, c in enumerate(counts) if c < 2]
        raise UserError(f"{model}: every class needs at least 2 training images for cross-validation "
                        f"(class ids with fewer: {', '.join(missing)})")
    folds = int(min(5, counts.min()))
    estimator, grid = _grid(model, seed, smallest_fold_train=len(y) - int(np.ceil(len(y) / folds)))
    search = GridSearchCV(Pipeline([("scale", StandardScaler()), ("clf", estimator)]), grid, scoring="f1_macro",
                          cv=StratifiedKFold(folds, shuffle=True, random_state=seed), n_jobs=1, refit=True)
    with warnings.catch_warnings():
        # scikit-learn 1.9 deprecates SVC(probability=True) for CalibratedClassifierCV; export (skl2onnx)
        # converts the SVC with its Platt scaling, so keep it until the converter handles the replacement
        warnings.filterwarnings("ignore", message="The `probability` parameter", category=FutureWarning)
        search.fit(x, y)
    chosen = {key.removeprefix("clf__"): value for key, value in search.best_params_.items()}
    chosen["cv_folds"] = folds
    chosen["cv_macro_f1"] = round(float(search.best_score_), 4)
    log.info("event=baseline_fitted model=%s features=%d params=%s", model, x.shape[1], chosen)
    return search.best_estimator_, chosen
