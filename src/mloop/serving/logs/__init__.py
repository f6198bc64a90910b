"""What the service writes off the answer's path: the prediction log and its per-version schema,
the request-error log, feedback labels, and the request ids that join them."""
