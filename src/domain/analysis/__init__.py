"""Analysis jobs: a user's recording compared with a reference, and the events of its life."""
