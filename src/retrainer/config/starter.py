"""The commented starter config that ``retrainer init`` writes."""

STARTER_CONFIG = """\
# retrainer.yaml - one model's continuous-training setup.
# Check it with `retrainer config check`; every key is documented in docs/config.md.

model:
  name: credit-default            # registered model name in MLflow
  task: binary                    # binary | multiclass | regression
  description: Probability that a consumer loan defaults.

data:
  source: data                    # local folder (relative to this file) or s3://bucket/prefix
  # s3_endpoint_url: http://127.0.0.1:9000   # MinIO / moto; defaults to AWS_ENDPOINT_URL
  tables:
    features: features            # <source>/features/date=YYYY-MM-DD/*.parquet
    labels: labels                # labels land later than features (label delay)
    predictions: predictions

columns:
  id: loan_id
  timestamp: event_time
  target: defaulted               # lives in the labels table
  label_timestamp: label_time     # when a label arrived
  numeric: [income, loan_amount, interest_rate, term_months, credit_score,
            debt_to_income, utilization, age, employment_years, open_accounts]
  categorical: [region, channel, home_ownership, purpose]
  segments: [region, channel]     # per-segment monitoring and gates

estimator:
  class_path: sklearn.ensemble.HistGradientBoostingClassifier
  params:
    max_iter: 200
    learning_rate: 0.05

state_dir: .retrainer             # embedded MLflow store, reports, baselines

# mlflow:
#   tracking_uri: http://127.0.0.1:5000   # MLFLOW_TRACKING_URI wins; default: embedded sqlite

training:
  window:
    # kind: fixed | dynamic | history_plus_recent | segment_upsample | warm_start
    kind: fixed
    days: 60
  preprocessing:
    categorical_encoding: onehot

gates:
  holdout:
    days: 7                       # latest labelled days, never trained on, scores both models
"""
