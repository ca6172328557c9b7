"""The spam and sentiment models: features, training, safe loading, prediction.

Public API
----------
predict(messages, spam_model, sentiment_model, hooks) -> Predictions
predict_proba(model, messages, on_progress=, stop_requested=) -> ndarray
evaluate(model, messages, labels=None) -> metrics dict
load_current(task, version=None) -> TrainedModel      (checked against its card)
load_model(path) -> TrainedModel
list_versions(task) / active_version / activate / rollback / describe_version
retrain(task, corrections, labels=None, ...) -> RetrainResult (unpacks as model, report)
retrain_many(messages, labels_by_task, corrected=) -> (results, probabilities)  (hashes once)
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
    ModelVersion,
    TrainedModel,
    activate,
    active_version,
    add_version,
    describe_version,
    list_versions,
    load_current,
    load_model,
    rollback,
    unusable_models,
)
from guiapp.core.models.training import (
    RetrainReport,
    RetrainResult,
    build_shipped_models,
    load_training_data,
    retrain,
    retrain_many,
    train_from_files,
    train_task,
)

__all__ = [
    "SHIPPED",
    "HashedTexts",
    "ModelVersion",
    "Predictions",
    "RetrainReport",
    "RetrainResult",
    "TrainedModel",
    "activate",
    "active_version",
    "add_version",
    "build_shipped_models",
    "classification_metrics",
    "describe_version",
    "evaluate",
    "hash_texts",
    "list_versions",
    "load_current",
    "load_model",
    "load_training_data",
    "predict",
    "predict_hashed",
    "predict_many",
    "predict_proba",
    "predicted_codes",
    "retrain",
    "retrain_many",
    "rollback",
    "train_from_files",
    "train_task",
    "unusable_models",
]
