"""`make eval`: the voice comparison measured on human recordings fetched at run time (see README)."""
