"""Classifiers: ``LogisticRegression``, ``LinearSVC`` (gradient descent on the iteration engine,
see ``aiflow.ml.linear``) and ``NaiveBayes`` (counting, one pass).

Params follow Flink ML's Python API (``features_col``, ``label_col``, ``prediction_col``,
``raw_prediction_col``, ``weight_col``, ``max_iter``, ``reg``, ``elastic_net``,
``learning_rate``, ``global_batch_size``, ``tol``; ``threshold`` for LinearSVC, ``smoothing`` and
``model_type`` for NaiveBayes). Labels are 0 / 1 for the binary ones.
"""

from aiflow.ml.classification.linear_svc import LinearSVC, LinearSVCModel
from aiflow.ml.classification.logistic_regression import (
    LogisticRegression,
    LogisticRegressionModel,
)
from aiflow.ml.classification.naive_bayes import NaiveBayes, NaiveBayesModel
from aiflow.ml.classification.online_logistic_regression import (
    OnlineLogisticRegression,
    OnlineLogisticRegressionModel,
)

__all__ = [
    "LinearSVC",
    "LinearSVCModel",
    "LogisticRegression",
    "LogisticRegressionModel",
    "NaiveBayes",
    "NaiveBayesModel",
    "OnlineLogisticRegression",
    "OnlineLogisticRegressionModel",
]
