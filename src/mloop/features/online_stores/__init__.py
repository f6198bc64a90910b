"""Online feature stores: the latest value of each feature per entity, for serving."""
