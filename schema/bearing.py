"""Which claims bear on a target, and in which direction at the level of that target.

A claim bears on target T when its subject is T, or when its subject is an intervention that
acts on T. At target level an inhibitor's effect reads turned over ("tocilizumab decreases NMO
relapses" says IL-6R signalling increases them); an activator's effect is kept; binding and
modulating give no direction, so such claims take no part in conflicts.
"""

from __future__ import annotations

from schema.enums import EffectDirection, TargetAction

_TURNED_OVER = {
    EffectDirection.INCREASES: EffectDirection.DECREASES,
    EffectDirection.DECREASES: EffectDirection.INCREASES,
    EffectDirection.NO_EFFECT: EffectDirection.NO_EFFECT,
    EffectDirection.MIXED: EffectDirection.MIXED,
}


def target_level_direction(direction: EffectDirection, action: TargetAction | None) -> EffectDirection | None:
    """The claim's direction read at target level; `action` is None when the subject is the target."""
    if action is None or action is TargetAction.ACTIVATES:
        return direction
    if action is TargetAction.INHIBITS:
        return _TURNED_OVER[direction]
    return None


def directions_oppose(a: EffectDirection | None, b: EffectDirection | None) -> bool:
    """Increases against decreases, or a change against no effect. MIXED opposes nothing."""
    changes = {EffectDirection.INCREASES, EffectDirection.DECREASES}
    if a is None or b is None or EffectDirection.MIXED in (a, b):
        return False
    if a in changes and b in changes:
        return a != b
    return (a is EffectDirection.NO_EFFECT) != (b is EffectDirection.NO_EFFECT)
