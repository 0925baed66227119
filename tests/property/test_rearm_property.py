"""The kernel loop's receive timeout (`kernel.rearm`): whatever is armed, the socket's
wait never outlasts the next deadline, never spins on a zero timeout while the
deadline is ahead, and a far deadline is re-armed a few dozen times on its way (about
log base 4/3 of the wait), not once per millisecond."""
import pytest
from hypothesis import given, strategies as st

from microkernel.kernel.kernel import rearm

pytestmark = pytest.mark.timeout(60)

waits = st.integers(min_value=-1, max_value=10**7)


def effective(wait: int, armed: int) -> int:
    arm = rearm(wait, armed)
    return armed if arm is None else arm


@given(waits, waits)
def test_the_armed_timeout_is_never_late_and_never_spins(wait, armed):
    eff = effective(wait, armed)
    if wait < 0:
        assert eff == -1                    # no deadline: block without a timeout
    else:
        assert 0 <= eff <= wait             # ends at the deadline or before it
        assert 2 * eff >= wait              # and not so early that the loop spins


@given(st.integers(min_value=1, max_value=20_000), st.integers(min_value=1, max_value=50))
def test_a_far_deadline_is_rearmed_a_few_dozen_times(wait, step):
    """Messages arrive every `step` ms while a deadline `wait` ms away comes nearer."""
    armed, arms = -1, 0
    for now in range(0, wait + 1, step):
        arm = rearm(wait - now, armed)
        if arm is not None:
            armed, arms = arm, arms + 1
    assert arms <= 40                       # exact arming: one per step
