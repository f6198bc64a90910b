"""Wire formats the service speaks: the Open Inference Protocol v2 and MLflow's scoring format."""
