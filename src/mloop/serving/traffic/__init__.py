"""Which model answers: champion, canary and shadow (``routing``), and the admin state (pin,
split) that every worker process of one service shares (``admin_state``)."""
