"""``mloop loadtest MODEL_URI``: QPS, p50/p99 and error rate of a served model version, from
worker processes with a raw HTTP/1.1 keep-alive client (ADR 0025), recorded per version and
gated by the ``loadtest:`` budget of mloop.yaml."""
