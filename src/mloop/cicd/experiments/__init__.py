"""Online experiments: champion against canary on live traffic, with intervals and an
always-valid sequential test (``mloop experiments show``), and the promotion or rollback they
feed."""
