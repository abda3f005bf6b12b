"""A 2-D stick figure: body proportions, a pose of joint angles, and drawing with OpenCV.

Angles are in degrees, measured from straight down, positive towards the right of the image
(0 = hanging down, 90 = pointing right, 180 = pointing up). Elbow and knee angles are relative to
the upper limb. Lengths are in units of the standing height, so a Body scales to any pixel size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

SUBPIXEL_BITS = 4  # OpenCV's `shift`: coordinates carry 4 fractional bits for smooth motion


@dataclass(frozen=True)
class Body:
    """Proportions and colours of one actor (all lengths as fractions of standing height)."""

    torso: float = 0.30
    neck: float = 0.03
    head_radius: float = 0.07
    shoulder_half_width: float = 0.08
    hip_half_width: float = 0.05
    upper_arm: float = 0.15
    forearm: float = 0.14
    thigh: float = 0.25
    shin: float = 0.24
    thickness: float = 0.065  # limb line width: thick enough to survive downscaling to 32×32
    body_colour: tuple[int, int, int] = (40, 40, 200)  # BGR, as OpenCV draws
    limb_colour: tuple[int, int, int] = (30, 30, 30)
    head_colour: tuple[int, int, int] = (150, 190, 230)

    @classmethod
    def random(cls, rng: np.random.Generator, bright: bool | None = None) -> Body:
        """An actor: every length within ±15% of the default, random clothing colours; ``bright``
        True (False) keeps every colour channel above (below) mid-grey, to stand out against a dark
        (light) room."""
        base = cls()
        lengths = {
            name: getattr(base, name) * rng.uniform(0.85, 1.15)
            for name in ("torso", "head_radius", "shoulder_half_width", "hip_half_width",
                         "upper_arm", "forearm", "thigh", "shin", "thickness")
        }
        low, high = {None: (20, 236), True: (150, 256), False: (0, 106)}[bright]
        colours = {
            name: tuple(int(c) for c in rng.integers(low, high, size=3))
            for name in ("body_colour", "limb_colour", "head_colour")
        }
        return replace(base, **lengths, **colours)


@dataclass(frozen=True)
class Pose:
    """Joint angles (degrees) of both sides; ``left`` is the figure's image-left side."""

    left_shoulder: float = -12.0
    left_elbow: float = 0.0
    right_shoulder: float = 12.0
    right_elbow: float = 0.0
    left_hip: float = -5.0
    left_knee: float = 0.0
    right_hip: float = 5.0
    right_knee: float = 0.0

    @classmethod
    def symmetric(cls, shoulder: float, elbow: float, hip: float, knee: float) -> Pose:
        """Right-side angles given; the left side is their mirror image."""
        return cls(-shoulder, -elbow, shoulder, elbow, -hip, -knee, hip, knee)


def _direction(angle_degrees: float) -> np.ndarray:
    radians = math.radians(angle_degrees)
    return np.array([math.sin(radians), math.cos(radians)])  # image y grows downwards


def joint_positions(body: Body, pose: Pose) -> dict[str, np.ndarray]:
    """Joint coordinates in height units, hip centre at the origin, y downwards."""
    hip = np.zeros(2)
    neck = hip + np.array([0.0, -body.torso])
    joints = {"hip": hip, "neck": neck, "head": neck + np.array([0.0, -(body.neck + body.head_radius)])}
    for side, sign in (("left", -1.0), ("right", 1.0)):
        shoulder = neck + np.array([sign * body.shoulder_half_width, 0.0])
        upper = getattr(pose, f"{side}_shoulder")
        elbow = shoulder + body.upper_arm * _direction(upper)
        hand = elbow + body.forearm * _direction(upper + getattr(pose, f"{side}_elbow"))
        hip_joint = hip + np.array([sign * body.hip_half_width, 0.0])
        thigh = getattr(pose, f"{side}_hip")
        knee = hip_joint + body.thigh * _direction(thigh)
        foot = knee + body.shin * _direction(thigh + getattr(pose, f"{side}_knee"))
        joints.update({
            f"{side}_shoulder": shoulder, f"{side}_elbow": elbow, f"{side}_hand": hand,
            f"{side}_hip": hip_joint, f"{side}_knee": knee, f"{side}_foot": foot,
        })
    return joints


# (from joint, to joint, colour attribute of Body): trunk and hips in clothing, lower limbs in skin
LIMBS = [("neck", "hip", "body_colour"), ("left_shoulder", "right_shoulder", "body_colour"),
         ("left_hip", "right_hip", "body_colour")] + [
    limb for side in ("left", "right") for limb in (
        (f"{side}_shoulder", f"{side}_elbow", "limb_colour"), (f"{side}_elbow", f"{side}_hand", "limb_colour"),
        (f"{side}_hip", f"{side}_knee", "body_colour"), (f"{side}_knee", f"{side}_foot", "limb_colour"))]


def draw(image: np.ndarray, body: Body, pose: Pose, feet_xy: tuple[float, float], height_px: float,
         lift: float = 0.0) -> None:
    """Draw the figure in place, standing with its lowest foot at ``feet_xy`` (pixels).

    ``lift`` raises the whole figure by that fraction of its height (a jump).
    """
    joints = joint_positions(body, pose)
    names = list(joints)
    points = np.array([joints[name] for name in names])
    lowest = max(joints["left_foot"][1], joints["right_foot"][1])
    origin = np.array(feet_xy, dtype=float) - np.array([0.0, (lowest + lift) * height_px])
    pixels = np.rint((origin + points * height_px) * (1 << SUBPIXEL_BITS)).astype(int).tolist()
    at = {name: tuple(xy) for name, xy in zip(names, pixels)}

    width = max(1, int(round(body.thickness * height_px)))
    for start, end, part in LIMBS:
        cv2.line(image, at[start], at[end], getattr(body, part), width, cv2.LINE_AA, SUBPIXEL_BITS)
    radius = int(round(body.head_radius * height_px * (1 << SUBPIXEL_BITS)))
    cv2.circle(image, at["head"], radius, body.head_colour, -1, cv2.LINE_AA, SUBPIXEL_BITS)
