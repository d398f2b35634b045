"""``retrainer demo``: the whole loop on a simulated stream (see :mod:`retrainer.demo.loop`)."""
