"""`suanli simulate`: replay cluster traces through the scoring core the extender runs."""
