"""`kubectl suanli` (and `suanli explain` / `suanli top`): the fleet and a job, read once from
the cluster into the one state model and explained by `suanli.view`."""
