"""The synthetic actions: what each class moves, and how every other part of the body stays still.

A clip is driven by a few **controls**, one value per frame:

    arms    0 (hanging) .. 1 (overhead), both arms together
    squat   0 (standing) .. 1 (deep squat)
    gait    leg swing in degrees (mirror-symmetric scissor step)
    travel  horizontal offset of the figure, in figure heights
    and, for the pretext classes only: wave (one forearm, the upper arm raised sideways), circle
    (one arm round), kick (one leg raised), lift (the whole figure's height above the floor)

An action moves one or two controls in its own way (the class); every control it does not move is
**held still at a value drawn from the same distribution as the moving one passes through**: the
value of a random frame of a random clip of the action that does move it. So any single frame, of
any class, is a draw from the same distribution of poses and positions, and only the change between
frames tells the classes apart. The target classes come in pairs that differ only by time:
WalkLeft/WalkRight (direction of travel), SquatDown/StandUp and RaiseArms/LowerArms (each the other
played backwards).

The pretext classes (a disjoint set, the stand-in for Sports-1M in the TUTL teacher's
pre-training) are other movements of the same body: they share the figures, scenes and renderer
but none of the target classes. Like Sports-1M's video, they carry the two cues the target needs:
the direction of travel (HopLeft/HopRight: sideways hops, legs together) and the direction in time
(a one-way move of another part and its reverse: one leg raised or lowered, the whole body rising
or sinking, an arm circling forwards or backwards, a forearm bending or straightening); five
periodic ones (WaveHand, JumpingJack, Jump, Kick, WalkInPlace) add movements with no direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from utils.data.stick_figure import Pose

# The demo's and the reproduction's classes, in label order: three pairs that only time separates.
TARGET_ACTIONS = ("WalkLeft", "WalkRight", "SquatDown", "StandUp", "RaiseArms", "LowerArms")
# Disjoint classes for pretext pre-training (the Sports-1M stand-in of the TUTL teacher): five pairs that only
# the direction of travel or of time separates, on other movements than the target's, and five periodic ones.
PRETEXT_ACTIONS = ("HopLeft", "HopRight", "LegUp", "LegDown", "RiseUp", "SinkDown", "CircleForward",
                   "CircleBackward", "ElbowBend", "ElbowStraighten", "WaveHand", "JumpingJack", "Jump", "Kick",
                   "WalkInPlace")
ACTIONS = TARGET_ACTIONS + PRETEXT_ACTIONS

MAX_TRAVEL = 0.45  # the furthest a walker gets from its clip's centre, in figure heights


@dataclass(frozen=True)
class Controls:
    """Per-frame values of every control (arrays of one length)."""

    arms: np.ndarray
    squat: np.ndarray
    gait: np.ndarray
    travel: np.ndarray
    wave: np.ndarray
    circle: np.ndarray
    kick: np.ndarray
    lift: np.ndarray
    waving_side: int  # +1 right arm, -1 left arm (wave, circle); kick uses the same side's leg

    def pose(self, i: int) -> Pose:
        shoulder = 12 + 155 * self.arms[i]
        elbow = -10 * self.arms[i]
        hip = 6 + 62 * self.squat[i]
        knee = -(4 + 118 * self.squat[i])
        angles = dict(left_shoulder=-shoulder, left_elbow=-elbow, right_shoulder=shoulder, right_elbow=elbow,
                      left_hip=-hip + self.gait[i], left_knee=-knee, right_hip=hip - self.gait[i], right_knee=knee)
        side = "right" if self.waving_side > 0 else "left"
        s = self.waving_side
        if self.wave[i] or self.circle[i]:
            angles[f"{side}_shoulder"] = s * (135.0 + self.circle[i]) if self.circle[i] else s * 135.0
            angles[f"{side}_elbow"] = s * self.wave[i]
        if self.kick[i]:
            angles[f"{side}_hip"] = s * (5 + self.kick[i])
            angles[f"{side}_knee"] = 0.0
        return Pose(**angles)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def transition(frames: int, rng: np.random.Generator) -> np.ndarray:
    """A rising move from a low to a high value that starts, takes and ends at random times."""
    t = np.linspace(0.0, 1.0, frames)
    low, high = rng.uniform(0.0, 0.2), rng.uniform(0.8, 1.0)
    duration = rng.uniform(0.6, 0.9)
    start = rng.uniform(0.0, 1.0 - duration)
    return low + (high - low) * _smoothstep((t - start) / duration)


def gait(frames: int, rng: np.random.Generator) -> np.ndarray:
    """Leg swing of a walker: 1.2 to 2.5 steps a clip, random phase."""
    t = np.linspace(0.0, 1.0, frames)
    amplitude = rng.uniform(18, 30)
    cycles = rng.uniform(1.2, 2.5)
    return amplitude * np.sin(2 * math.pi * (cycles * t + rng.uniform(0, 1)))


def travel(frames: int, rng: np.random.Generator, direction: float) -> np.ndarray:
    """Offset of a walker, centred on the clip's middle frame: ``direction`` -1 left, +1 right."""
    t = np.linspace(0.0, 1.0, frames)
    return direction * rng.uniform(0.7, 2 * MAX_TRAVEL) * (t - 0.5)


def _held(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The value of one random frame of ``values``, for every frame."""
    return np.full(len(values), values[rng.integers(len(values))])


def _still(frames: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every target control held at a value a moving clip passes through (see the module docstring)."""
    reverse = rng.random() < 0.5
    arms = transition(frames, rng)
    squat = transition(frames, rng)
    return {
        "arms": _held(arms[::-1] if reverse else arms, rng),
        "squat": _held(squat[::-1] if rng.random() < 0.5 else squat, rng),
        "gait": _held(gait(frames, rng), rng),
        "travel": _held(travel(frames, rng, 1.0 if rng.random() < 0.5 else -1.0), rng),
    }


def action_controls(action: str, frames: int, rng: np.random.Generator) -> Controls:
    """Per-frame controls of one clip of ``action``, ``frames`` long, drawn from ``rng``."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    t = np.linspace(0.0, 1.0, frames)
    zero = np.zeros(frames)
    controls = {**_still(frames, rng), "wave": zero, "circle": zero, "kick": zero, "lift": zero}
    side = 1 if rng.random() < 0.5 else -1
    phase = 2 * math.pi * (rng.uniform(1.2, 3.0) * t + rng.uniform(0, 1))
    if action in ("WalkLeft", "WalkRight"):
        controls["gait"] = gait(frames, rng)
        controls["travel"] = travel(frames, rng, -1.0 if action == "WalkLeft" else 1.0)
    elif action in ("SquatDown", "StandUp"):
        depth = transition(frames, rng)
        controls["squat"] = depth if action == "SquatDown" else depth[::-1]
    elif action in ("RaiseArms", "LowerArms"):
        raised = transition(frames, rng)
        controls["arms"] = raised if action == "RaiseArms" else raised[::-1]
    elif action in ("HopLeft", "HopRight"):
        controls["travel"] = travel(frames, rng, -1.0 if action == "HopLeft" else 1.0)
        controls["lift"] = 0.08 * np.abs(np.sin(phase / 2))
        controls["gait"] = zero
    elif action in ("LegUp", "LegDown"):
        raised = 5 + 70 * transition(frames, rng)
        controls["kick"] = raised if action == "LegUp" else raised[::-1]
    elif action in ("RiseUp", "SinkDown"):
        height = 0.2 * transition(frames, rng)
        controls["lift"] = height if action == "RiseUp" else height[::-1]
    elif action in ("CircleForward", "CircleBackward"):
        angle = np.degrees(phase) if action == "CircleForward" else -np.degrees(phase)
        controls["circle"] = (angle % 360.0) - 135.0 + 1e-3
    elif action in ("ElbowBend", "ElbowStraighten"):
        bent = 5 + 130 * transition(frames, rng)
        controls["wave"] = bent if action == "ElbowBend" else bent[::-1]
    elif action == "WaveHand":
        controls["wave"] = 40 + 35 * np.sin(1.5 * phase)
    elif action == "JumpingJack":
        spread = (1 - np.cos(phase)) / 2
        controls["arms"] = 0.1 + 0.85 * spread
        controls["gait"] = zero
        controls["squat"] = 0.15 * spread
    elif action == "Jump":
        controls["lift"] = 0.12 * np.abs(np.sin(phase / 2))
    elif action == "Kick":
        controls["kick"] = 70 * np.maximum(np.sin(phase), 0.0) + 1e-3
    elif action == "WalkInPlace":
        controls["gait"] = gait(frames, rng)
    return Controls(**controls, waving_side=side)
