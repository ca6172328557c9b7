"""The spam and sentiment models: features, training, safe loading, adaptation, prediction.

Public API
----------
predict_many(messages, models, hooks) -> list of probability arrays
predict_proba(model, messages, on_progress=, stop_requested=) -> ndarray
evaluate(model, messages, labels=None) -> metrics dict
load_shipped(task) -> TrainedModel                     (models/, checked against its card)
load_model(path) -> TrainedModel                       (.npz + card: arrays and JSON only)
store.load_from(project_path, task, version=None)      a project's own versions (store.py)
retrain_project(messages, labels_by_task, source=) -> per task TaskOutcome (retrain.py)
hash_texts(hasher, messages) -> HashedTexts; predict_hashed(hashed, models)
build_shipped_models(data_dir, out_dir, hooks)        (`triage train` with no arguments)
train_from_files(spam_files=, sentiment_files=, out_dir=, hooks=)
"""

from guiapp.core.models.hashed import HashedTexts, hash_texts
from guiapp.core.models.predict import (
    Predictions,
    classification_metrics,
    evaluate,
    predict,
    predict_hashed,
    predict_many,
    predict_proba,
    predicted_codes,
)
from guiapp.core.models.registry import (
    SHIPPED,
    TrainedModel,
    load_model,
    load_shipped,
)
from guiapp.core.models.retrain import TaskOutcome, figures, retrain_project
from guiapp.core.models.store import StoredVersion, load_from, versions_from
from guiapp.core.models.training import (
    build_shipped_models,
    load_training_data,
    train_from_files,
    train_task,
)

__all__ = [
    "SHIPPED",
    "HashedTexts",
    "Predictions",
    "StoredVersion",
    "TaskOutcome",
    "TrainedModel",
    "build_shipped_models",
    "classification_metrics",
    "evaluate",
    "figures",
    "hash_texts",
    "load_from",
    "load_model",
    "load_shipped",
    "load_training_data",
    "predict",
    "predict_hashed",
    "predict_many",
    "predict_proba",
    "predicted_codes",
    "retrain_project",
    "train_from_files",
    "train_task",
    "versions_from",
]
