"""Naive Bayes as Flink ML has it (``model_type="multinomial"``): every feature is categorical --
each distinct value of a vector element is a category -- and

    P(label c) ~ (n_c * F + smoothing) / (n * F + L * smoothing)
    P(x_j = v | c) = (count(c, x_j = v) + smoothing) / (n_c + smoothing * K_j)

with F features, L labels and K_j the distinct training values of feature j. That is
scikit-learn's ``CategoricalNB`` but for the prior, which Flink ML smooths too. Training is one
counting pass (``np.bincount`` per feature), so it needs no iteration.

Model data, two tables (vectors and scalars only, so they save as Parquet):

- per label: ``label`` (double), ``log_prior`` (double), ``theta`` (vector: the log-likelihood of
  every (feature, value) category, in the order of the second table);
- per category: ``feature`` (bigint) and ``value`` (double), sorted by feature then value.

A value never seen in training for a feature leaves that feature out of the row's sum (as if it
were missing), where Flink ML fails with a NullPointerException.
"""

from __future__ import annotations

from typing import Final, Self

import numpy as np

from aiflow.ml.api import Estimator, Model
from aiflow.ml.common_params import HasFeaturesCol, HasLabelCol, HasPredictionCol
from aiflow.ml.linear import features, labels
from aiflow.ml.param import FloatParam, ParamValidators, StringParam
from aiflow.ml.table import Table

MODEL_TYPES: Final = ("multinomial",)


class _NaiveBayesModelParams(HasFeaturesCol, HasPredictionCol):
    MODEL_TYPE = StringParam(
        "model_type",
        "The model type (Flink ML's: 'multinomial', categorical features).",
        "multinomial",
        ParamValidators.in_array(MODEL_TYPES),
    )


class NaiveBayesModel(Model, _NaiveBayesModelParams):
    """Predicts the most probable label with a fitted ``NaiveBayes``'s model data."""

    def set_model_data(self, *tables: Table) -> Self:
        super().set_model_data(*tables)
        if len(tables) != 2:
            raise self.error(f"expects 2 model data tables (labels, categories), got {len(tables)}")
        per_label, per_category = tables
        who = self.stage_name
        self._labels = per_label.column("label", stage=who).astype(np.float64)
        self._log_prior = per_label.column("log_prior", stage=who).astype(np.float64)
        self._theta = per_label.vector("theta", stage=who)
        feature = per_category.column("feature", stage=who).astype(np.int64)
        value = per_category.column("value", stage=who).astype(np.float64)
        if self._theta.shape[1] != len(feature):
            raise self.error(
                f"model data: theta has {self._theta.shape[1]} entries "
                f"for {len(feature)} categories"
            )
        self._dims = int(feature.max()) + 1 if len(feature) else 0
        self._bounds = np.searchsorted(feature, np.arange(self._dims + 1))
        self._values = value
        return self

    def transform(self, *tables: Table) -> list[Table]:
        self.get_model_data()
        self.check_inputs(tables)
        table = tables[0]
        x = features(self, table, self.get_features_col(), self._dims)
        scores = np.tile(self._log_prior, (len(x), 1))
        for j in range(self._dims):  # a loop over features; each step is over all rows
            start, end = self._bounds[j], self._bounds[j + 1]
            known = self._values[start:end]
            pos = np.minimum(np.searchsorted(known, x[:, j]), len(known) - 1)
            seen = known[pos] == x[:, j]
            scores[seen] += self._theta[:, start + pos[seen]].T
        best = self._labels[np.argmax(scores, axis=1)]
        return [table.with_columns({self.get_prediction_col(): best})]


class NaiveBayes(Estimator, _NaiveBayesModelParams, HasLabelCol):
    """Categorical naive Bayes over the elements of a features vector (see the module
    docstring); labels are integer-valued numbers."""

    SMOOTHING = FloatParam(
        "smoothing", "Additive (Laplace) smoothing.", 1.0, ParamValidators.gt_eq(0.0)
    )

    def fit(self, *tables: Table) -> NaiveBayesModel:
        self.check_inputs(tables)
        table = tables[0]
        x = features(self, table, self.get_features_col())
        y = labels(self, table, self.get_label_col())
        if not np.array_equal(y, np.round(y)):
            raise self.error(f"label column '{self.get_label_col()}' must hold integer values")
        smoothing = self.get(self.SMOOTHING)
        label_values, label_index = np.unique(y, return_inverse=True)
        n_labels, (rows, dims) = len(label_values), x.shape
        per_label = np.bincount(label_index, minlength=n_labels).astype(np.float64)
        thetas, feature_ids, values = [], [], []
        with np.errstate(divide="ignore"):  # smoothing 0: an unseen pair has log 0 = -inf
            for j in range(dims):  # a loop over features; each step is over all rows
                categories, inverse = np.unique(x[:, j], return_inverse=True)
                k = len(categories)
                counts = np.bincount(label_index * k + inverse, minlength=n_labels * k)
                counts = counts.reshape(n_labels, k).astype(np.float64)
                norm = np.log(per_label + smoothing * k)[:, None]
                thetas.append(np.log(counts + smoothing) - norm)
                feature_ids.append(np.full(k, j, dtype=np.int64))
                values.append(categories)
            log_prior = np.log(per_label * dims + smoothing) - np.log(
                rows * dims + n_labels * smoothing
            )
        model_data = [
            Table(
                {
                    "label": label_values,
                    "log_prior": log_prior,
                    "theta": np.concatenate(thetas, axis=1),
                }
            ),
            Table({"feature": np.concatenate(feature_ids), "value": np.concatenate(values)}),
        ]
        return NaiveBayesModel().copy_params_from(self).set_model_data(*model_data)
