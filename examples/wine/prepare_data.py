"""Write the wine example's data from the copy scikit-learn ships (no downloads).

data/wine.csv        140 labelled rows for batch training
data/holdout/*.csv   38 rows in 4 files, to drop into data/wine_stream/ while a stream run
                     watches it (each file is one micro-batch)
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sklearn.datasets import load_wine

HERE = Path(__file__).resolve().parent


def main(data_dir: Path = HERE / "data") -> None:
    frame = load_wine(as_frame=True).frame.rename(
        columns={"od280/od315_of_diluted_wines": "od280_od315", "target": "label"}
    )
    frame = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    train, holdout = frame.iloc[:140], frame.iloc[140:]
    data_dir.mkdir(parents=True, exist_ok=True)
    train.to_csv(data_dir / "wine.csv", index=False)
    shutil.rmtree(data_dir / "holdout", ignore_errors=True)
    (data_dir / "holdout").mkdir()
    for i in range(4):
        part = holdout.iloc[i::4]
        part.to_csv(data_dir / "holdout" / f"wine_{i:03d}.csv", index=False)
    (data_dir / "wine_stream").mkdir(exist_ok=True)
    print(f"wrote {len(train)} training rows and {len(holdout)} holdout rows under {data_dir}")


if __name__ == "__main__":
    main()
