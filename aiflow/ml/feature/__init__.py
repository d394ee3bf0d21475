"""Feature stages: scalers, encoders, an imputer, an assembler and a bucketizer (local engine).

    from aiflow.ml.feature import (StandardScaler, MinMaxScaler, OneHotEncoder, StringIndexer,
                                   VectorAssembler, Imputer, Bucketizer)

Each follows Flink ML's Python API -- the same param names (``input_col(s)``,
``output_col(s)``, ``handle_invalid``, ...) and, unless its module docstring says otherwise, the
same semantics -- computed with numpy on whole columns. Estimators (``StandardScaler``,
``MinMaxScaler``, ``OneHotEncoder``, ``StringIndexer``, ``Imputer``) fit a ``...Model`` whose
model data are tables (their layout is in each module's docstring), saved as Parquet by
``save``; ``VectorAssembler`` and ``Bucketizer`` are Transformers, params only.

``handle_invalid`` means the same everywhere: ``error`` raises naming the column, the number
of rows and the first; ``skip`` drops each row with an invalid value in any input column;
``keep`` keeps it (an extra category or bucket, or NaN, as each stage says).
"""

from __future__ import annotations

from aiflow.ml.feature.bucketizer import Bucketizer
from aiflow.ml.feature.imputer import Imputer, ImputerModel
from aiflow.ml.feature.minmax_scaler import MinMaxScaler, MinMaxScalerModel
from aiflow.ml.feature.onehot_encoder import OneHotEncoder, OneHotEncoderModel
from aiflow.ml.feature.standard_scaler import StandardScaler, StandardScalerModel
from aiflow.ml.feature.string_indexer import StringIndexer, StringIndexerModel
from aiflow.ml.feature.vector_assembler import VectorAssembler

__all__ = [
    "Bucketizer",
    "Imputer",
    "ImputerModel",
    "MinMaxScaler",
    "MinMaxScalerModel",
    "OneHotEncoder",
    "OneHotEncoderModel",
    "StandardScaler",
    "StandardScalerModel",
    "StringIndexer",
    "StringIndexerModel",
    "VectorAssembler",
]
