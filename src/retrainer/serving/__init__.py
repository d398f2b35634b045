"""The serving gateway's core (pure): sticky routing, request checks, micro-batching.

The gateway itself is not built yet; these are the pieces it will route, validate and
batch with.
"""

from retrainer.serving.batching import BatchStats, MicroBatcher
from retrainer.serving.requests import PredictRequest, RequestError, parse_request
from retrainer.serving.routing import Route, bucket, route

__all__ = [
    "BatchStats",
    "MicroBatcher",
    "PredictRequest",
    "RequestError",
    "Route",
    "bucket",
    "parse_request",
    "route",
]
