"""Small foundation pieces shared by every layer: hashing, clock, ids."""
