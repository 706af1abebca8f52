"""The time step of the planar engine and the Taichi kernels that run it over whole rollouts.

One kernel launch simulates every scene of a batch (one CPU thread or GPU lane per scene) over
all its steps; states of every step are kept in fields so that reverse-mode autodiff can run
the launch backwards. Per step and object i, in order:

1. Contacts (when ``collide``): for every other active object j, the footprints' gap, normal
   and contact point at the start of the step; the pair collides in this step when it
   approaches (normal relative velocity ``vn < 0``) and would overlap by the end of it
   (``gap + dt * vn < 0``). It takes the normal impulse ``J = -(1 + e_i e_j) vn / k`` with
   ``k = 1/m_i + 1/m_j + (r_i x n)²/I_i + (r_j x n)²/I_j``, which changes velocity and yaw rate
   (spin from off-centre impulses), and the time-of-impact correction: the body moved with its
   old velocity until ``toi = gap / -vn`` into the step, so its position is shifted by
   ``-toi * Δv``, which keeps positions continuous in the parameters when a collision moves
   from one step to the next.
2. Table friction: cubes and cylinders slide with Coulomb friction shared by point contacts
   with the table (a cube's 4 corners, 8 points on a cylinder's rim: where pybullet's contact
   manifold puts them), each point's friction opposing its own sliding velocity v + w x r. The
   mean of those directions slows v (deceleration friction x g when not spinning, speed clamped
   at zero) and their mean moment slows the yaw rate (friction x g x corner or rim radius /
   inertia when not sliding), so a spinning object slides farther and a sliding one keeps its
   spin longer, as in pybullet (measured: a spinning cube's yaw rate decays 1.8 times faster
   than with a uniformly loaded square footprint); a sphere carries
   the velocity ``u`` its spin would roll at: while it slips (``v != u``) friction moves ``v``
   by -friction x g and ``u`` by +2.5 friction x g along the slip, and the rolling resistance
   slows ``u`` by 2.5 rolling_friction x g / r (its torque on the spin alone); when rolling both
   decelerate at min(rolling_friction x g / (1.4 r), friction x g) (pybullet's behaviour,
   measured, also after impacts, which change ``v`` but not the spin).
3. Semi-implicit Euler: ``x += dt * v_new``, ``yaw += dt * w_new`` (pybullet's integrator).
"""

import numpy as np
import taichi as ti

from physreason.physics.contact import blend, disc_disc, disc_square, flag, flip, square_square
from physreason.physics.model import CUBE, GRAVITY, HALF_SIZE, SPHERE, SUBSTEPS, TIME_STEP, YAW_INERTIA

SPHERE_ROLL_FACTOR = 1.4
"""1 + 2/5: a solid sphere rolling without slipping decelerates at rolling_friction x g / (1.4 r)."""
TABLE_POINTS = 8
"""Table contact points of a cube (its 4 corners, each taken twice) or a cylinder (on its rim)."""
CORNER_RADIUS = float(np.sqrt(2.0) * HALF_SIZE)
"""Units: distance of a cube's corners from its centre."""
RIM_RADIUS = HALF_SIZE - 0.005
"""Units: radius of a cylinder's table contact (the reference's cylinder core, 5 mm narrower)."""
SLIDE_EPS = 1e-3
"""Units/s: sliding speed below which a contact point's friction direction is smoothed."""
_CUBE_POINTS = [(CORNER_RADIUS * float(np.cos(a)), CORNER_RADIUS * float(np.sin(a)))
                for a in (np.pi / 4.0 + (p // 2) * np.pi / 2.0 for p in range(TABLE_POINTS))]
_RIM_POINTS = [(RIM_RADIUS * float(np.cos(a)), RIM_RADIUS * float(np.sin(a)))
               for a in (p * 2.0 * np.pi / TABLE_POINTS for p in range(TABLE_POINTS))]
"""Table contact points in the body frame (units) for yaw 0: cube corners, cylinder rim."""


@ti.func
def _cross_wr(w, r):
    """Velocity of a point at offset ``r`` on a body spinning at yaw rate ``w``."""
    return ti.Vector([-w * r[1], w * r[0]])


@ti.func
def _cross(r, n):
    return r[0] * n[1] - r[1] * n[0]


@ti.func
def _shrink(v, amount):
    """``v`` with its length reduced by ``amount`` (>= 0), never past zero."""
    speed = ti.sqrt(v.dot(v) + 1e-20)
    return v * ti.max(1.0 - amount / speed, 0.0)


@ti.data_oriented
class Simulator:
    """Fields and kernels for up to ``max_scenes`` scenes of ``max_objects`` objects over
    ``max_steps`` steps, observed at ``max_frames`` frames, in float type ``real``.

    Fields (b scene, t step, i object): parameters ``mass``, ``restitution``, ``friction``,
    ``rolling``, initial ``x0`` (units), ``v0`` (units/s), ``yaw0`` (rad); states ``x``, ``v``,
    ``u`` (sphere rolling velocity), ``yaw``, ``w`` (rad/s) at steps 0..max_steps; ``impulse``
    (b, t, i, j) the impulse on i from j during step t (x, y, angular, time of impact); ``hit``
    (b, t, i, j) 1 when i and j collide during step t; loss inputs ``target`` (b, f, i) and
    ``weight`` (b, f, i), output ``loss`` (b).
    """

    def __init__(self, real: type, max_scenes: int, max_objects: int, max_steps: int, max_frames: int) -> None:
        self.real = real
        self.max_scenes, self.max_objects, self.max_steps, self.max_frames = max_scenes, max_objects, max_steps, max_frames
        bn = (max_scenes, max_objects)
        btn = (max_scenes, max_steps + 1, max_objects)
        self.kind = ti.field(ti.i32, shape=bn)
        self.active = ti.field(ti.i32, shape=bn)
        self.mass = ti.field(real, shape=bn, needs_grad=True)
        self.restitution = ti.field(real, shape=bn, needs_grad=True)
        self.friction = ti.field(real, shape=bn, needs_grad=True)
        self.rolling = ti.field(real, shape=bn, needs_grad=True)
        self.x0 = ti.Vector.field(2, real, shape=bn, needs_grad=True)
        self.v0 = ti.Vector.field(2, real, shape=bn, needs_grad=True)
        self.yaw0 = ti.field(real, shape=bn, needs_grad=True)
        self.x = ti.Vector.field(2, real, shape=btn, needs_grad=True)
        self.v = ti.Vector.field(2, real, shape=btn, needs_grad=True)
        self.u = ti.Vector.field(2, real, shape=btn, needs_grad=True)
        self.yaw = ti.field(real, shape=btn, needs_grad=True)
        self.w = ti.field(real, shape=btn, needs_grad=True)
        self.hit = ti.field(ti.i8, shape=(max_scenes, max_steps, max_objects, max_objects))
        self.impulse = ti.Vector.field(4, real, shape=(max_scenes, max_steps, max_objects, max_objects),
                                       needs_grad=True)
        self.target = ti.Vector.field(2, real, shape=(max_scenes, max_frames, max_objects))
        self.weight = ti.field(real, shape=(max_scenes, max_frames, max_objects))
        self.loss = ti.field(real, shape=max_scenes, needs_grad=True)
        self.inertia = ti.field(real, shape=3)
        self.inertia.from_numpy(YAW_INERTIA.astype(self._np_real))

    @property
    def _np_real(self) -> type:
        return np.float64 if self.real == ti.f64 else np.float32

    def fits(self, n_scenes: int, n_objects: int, n_steps: int, n_frames: int) -> bool:
        """Whether a batch of this size fits the fields."""
        return (n_scenes <= self.max_scenes and n_objects <= self.max_objects and n_steps <= self.max_steps
                and n_frames <= self.max_frames)

    @ti.func
    def _resolve(self, b, t, i, j, c, i_first):
        """Write the impulse on i from j during step t given their contact ``c`` (a 7-vector
        with i as body a when ``i_first`` is 1, else as body b)."""
        dt = ti.cast(TIME_STEP, self.real)
        n = i_first * ti.Vector([c[1], c[2]]) - (1.0 - i_first) * ti.Vector([c[1], c[2]])
        ri = blend(i_first, ti.Vector([c[3], c[4]]), ti.Vector([c[5], c[6]]))
        rj = blend(i_first, ti.Vector([c[5], c[6]]), ti.Vector([c[3], c[4]]))
        gap = c[0]
        ki, kj = self.kind[b, i], self.kind[b, j]
        mi, mj = self.mass[b, i], self.mass[b, j]
        vn = (self.v[b, t, i] + _cross_wr(self.w[b, t, i], ri) - self.v[b, t, j]
              - _cross_wr(self.w[b, t, j], rj)).dot(n)
        hits = vn < 0.0 and gap + dt * vn < 0.0
        rin = _cross(ri, n)
        rjn = _cross(rj, n)
        k = 1.0 / mi + 1.0 / mj + rin * rin / (mi * self.inertia[ki]) + rjn * rjn / (mj * self.inertia[kj])
        impulse = flag(hits, gap) * -(1.0 + self.restitution[b, i] * self.restitution[b, j]) * vn / k
        toi = ti.min(ti.max(gap / -ti.min(vn, -1e-9), 0.0), dt)
        self.impulse[b, t, i, j] = ti.Vector([impulse * n[0], impulse * n[1], impulse * rin, toi])
        self.hit[b, t, i, j] = ti.cast(hits, ti.i8)

    @ti.func
    def _pair(self, b, t, i, j, collide):
        """Impulse on object i from its contact with j during step t into ``impulse[b, t, i, j]``
        as (linear impulse x, y, angular impulse, time of impact); zero when they do not collide."""
        h = ti.cast(HALF_SIZE, self.real)
        if collide != 0 and j != i and self.active[b, i] != 0 and self.active[b, j] != 0:
            lo, hi = ti.min(i, j), ti.max(i, j)  # the lower index is always body a: both sides see one contact
            i_first = ti.cast(i < j, self.real)
            ka, kb = self.kind[b, lo], self.kind[b, hi]
            xa, ya, xb, yb = self.x[b, t, lo], self.yaw[b, t, lo], self.x[b, t, hi], self.yaw[b, t, hi]
            if ka != CUBE and kb != CUBE:
                self._resolve(b, t, i, j, disc_disc(xa, xb, h), i_first)
            elif ka != CUBE:
                self._resolve(b, t, i, j, disc_square(xa, xb, yb, h), i_first)
            elif kb != CUBE:
                self._resolve(b, t, i, j, flip(disc_square(xb, xa, ya, h)), i_first)
            else:
                self._resolve(b, t, i, j, square_square(xa, ya, xb, yb, h), i_first)
        else:
            self.impulse[b, t, i, j] = ti.Vector([0.0, 0.0, 0.0, 0.0], dt=self.real)
            self.hit[b, t, i, j] = ti.cast(0, ti.i8)

    @ti.func
    def _advance(self, b, t, i, n_objects):
        """Step t -> t+1 of object i of scene b, given the pair impulses of step t."""
        dt = ti.cast(TIME_STEP, self.real)
        g = ti.cast(GRAVITY, self.real)
        h = ti.cast(HALF_SIZE, self.real)
        xi, vi, ui, yi, wi = self.x[b, t, i], self.v[b, t, i], self.u[b, t, i], self.yaw[b, t, i], self.w[b, t, i]
        ki = self.kind[b, i]
        mi = self.mass[b, i]
        ii = mi * self.inertia[ki]
        total = ti.Vector([0.0, 0.0, 0.0, 0.0, 0.0, 0.0], dt=self.real)  # dv, position shift, dw, yaw shift
        for j in ti.static(range(self.max_objects)):  # unrolled and unbranched: autodiff breaks otherwise
            p = self.impulse[b, t, i, ti.min(j, n_objects - 1)] * flag(j < n_objects, mi)
            total += ti.Vector([p[0] / mi, p[1] / mi, -p[3] * p[0] / mi, -p[3] * p[1] / mi,
                                p[2] / ii, -p[3] * p[2] / ii])
        v1 = vi + ti.Vector([total[0], total[1]])
        w1 = wi + total[4]
        mu_g = self.friction[b, i] * g
        # sphere: slipping or rolling
        slip = v1 - ui
        slipping = flag(slip.dot(slip) > (3.5 * mu_g * dt) ** 2, mu_g)
        slip_dir = slip / ti.sqrt(slip.dot(slip) + 1e-20)
        roll = (5.0 * v1 + 2.0 * ui) / 7.0
        roll_decel = ti.min(self.rolling[b, i] * g / (SPHERE_ROLL_FACTOR * h), mu_g) * dt
        rolled = _shrink(roll, roll_decel)
        v_sphere = blend(slipping, v1 - mu_g * dt * slip_dir, rolled)
        spin_drag = 2.5 * self.rolling[b, i] * g / h * dt  # rolling resistance on the spin alone while slipping
        u_sphere = blend(slipping, _shrink(ui + 2.5 * mu_g * dt * slip_dir, spin_drag), rolled)
        # cube or cylinder: Coulomb friction shared by the table contact points (a cube's four
        # corners, eight points on a cylinder's rim), each sliding at v + w x r: the mean sliding
        # direction slows v, the mean moment slows w (sliding and spinning share the friction)
        is_cube = flag(ki == CUBE, mu_g)
        cy, sy = ti.cos(yi), ti.sin(yi)
        drag = ti.Vector([0.0, 0.0, 0.0], dt=self.real)  # mean sliding direction (x, y) and moment
        for p in ti.static(range(TABLE_POINTS)):  # unrolled: locals summed in dynamic loops break autodiff
            lx = blend(is_cube, _CUBE_POINTS[p][0], _RIM_POINTS[p][0])
            ly = blend(is_cube, _CUBE_POINTS[p][1], _RIM_POINTS[p][1])
            r = ti.Vector([cy * lx - sy * ly, sy * lx + cy * ly])
            up = v1 + _cross_wr(w1, r)
            d = up / ti.sqrt(up.dot(up) + SLIDE_EPS ** 2)
            drag += ti.Vector([d[0], d[1], _cross(r, d)]) / TABLE_POINTS
        slide = ti.sqrt(drag[0] * drag[0] + drag[1] * drag[1] + 1e-20)
        v_slide = _shrink(v1, mu_g * slide * dt)
        spin_decel = mu_g * ti.abs(drag[2]) / self.inertia[ki] * dt
        w_slide = ti.math.sign(w1) * ti.max(ti.abs(w1) - spin_decel, 0.0)
        is_sphere = flag(ki == SPHERE, mu_g)
        live = flag(self.active[b, i] != 0, mu_g)
        v2 = live * blend(is_sphere, v_sphere, v_slide)
        u2 = live * blend(is_sphere, u_sphere, v_slide)
        w2 = live * blend(is_sphere, w1, w_slide)
        self.v[b, t + 1, i] = v2
        self.u[b, t + 1, i] = u2
        self.w[b, t + 1, i] = w2
        self.x[b, t + 1, i] = xi + dt * v2 + live * ti.Vector([total[2], total[3]])
        self.yaw[b, t + 1, i] = yi + dt * w2 + live * total[5]

    @ti.kernel
    def initialize(self, n_scenes: ti.i32, n_objects: ti.i32):
        """Step 0 of every scene from its initial state (a kernel of its own: Taichi's reverse mode
        drops gradients that cross two loops in one kernel)."""
        for b, i in ti.ndrange(n_scenes, n_objects):
            self.x[b, 0, i] = self.x0[b, i]
            self.v[b, 0, i] = self.v0[b, i]
            self.u[b, 0, i] = self.v0[b, i]
            self.yaw[b, 0, i] = self.yaw0[b, i]
            self.w[b, 0, i] = 0.0

    @ti.kernel
    def simulate(self, n_scenes: ti.i32, n_objects: ti.i32, n_steps: ti.i32, collide: ti.i32):
        """Roll every scene forward ``n_steps`` steps from step 0 (one launch). Each step is one
        flat loop, pairs first, then objects: two loops in a row break Taichi's reverse mode."""
        for b in range(n_scenes):
            for t in range(n_steps):
                for k in range(n_objects * n_objects + n_objects):
                    if k < n_objects * n_objects:
                        self._pair(b, t, k // n_objects, k % n_objects, collide)
                    else:
                        self._advance(b, t, k - n_objects * n_objects, n_objects)

    @ti.kernel
    def clear_grads(self, n_scenes: ti.i32, n_objects: ti.i32, n_steps: ti.i32):
        """Zero the gradients of the parameters and of the states of the used steps (filling whole
        fields costs more than a small batch's backward pass)."""
        for b, i in ti.ndrange(n_scenes, n_objects):
            self.mass.grad[b, i] = 0.0
            self.restitution.grad[b, i] = 0.0
            self.friction.grad[b, i] = 0.0
            self.rolling.grad[b, i] = 0.0
            self.x0.grad[b, i] = ti.Vector([0.0, 0.0], dt=self.real)
            self.v0.grad[b, i] = ti.Vector([0.0, 0.0], dt=self.real)
            self.yaw0.grad[b, i] = 0.0
        for b, t, i in ti.ndrange(n_scenes, n_steps + 1, n_objects):
            self.x.grad[b, t, i] = ti.Vector([0.0, 0.0], dt=self.real)
            self.v.grad[b, t, i] = ti.Vector([0.0, 0.0], dt=self.real)
            self.u.grad[b, t, i] = ti.Vector([0.0, 0.0], dt=self.real)
            self.yaw.grad[b, t, i] = 0.0
            self.w.grad[b, t, i] = 0.0
        for b, t, i, j in ti.ndrange(n_scenes, n_steps, n_objects, n_objects):
            self.impulse.grad[b, t, i, j] = ti.Vector([0.0, 0.0, 0.0, 0.0], dt=self.real)

    @ti.kernel
    def squared_error(self, n_scenes: ti.i32, n_objects: ti.i32, n_frames: ti.i32):
        """``loss[b] = sum_f,i weight * |x(frame f) - target|²`` (frames every SUBSTEPS steps).

        Scenes run in parallel; each scene's sum runs serially in a fixed order, so the loss
        (and the fit) does not depend on the number of threads."""
        for b in range(n_scenes):
            for f in range(n_frames):
                for i in range(n_objects):
                    wt = self.weight[b, f, i]
                    if wt > 0.0:
                        d = self.x[b, f * SUBSTEPS, i] - self.target[b, f, i]
                        self.loss[b] += wt * d.dot(d)
