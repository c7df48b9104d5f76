"""Gang admission, as the controller uses it: the plan itself is `suanli.state.gang` (a
what-if on the one cluster state, shared with backfill and `suanli plan`)."""

from suanli.state.gang import Admission, plan_gang

__all__ = ["Admission", "plan_gang"]
