"""The battery as the autopilot reports it: voltage, current, charge used, state.

The energy left comes from the vehicle model (``kinematics``); this gauge turns it
into what SYS_STATUS and BATTERY_STATUS carry. A 4-cell LiPo's voltage falls
linearly from 4.2 V to 3.5 V per cell as it empties; the current is the power drawn
at that voltage; the charge used is the current integrated over time.
"""

from __future__ import annotations

from simulator.kinematics import Limits, VehicleState, power_w
from simulator.mavlink_out import CELLS, Battery

CELL_FULL_V = 4.2
CELL_EMPTY_V = 3.5
LOW_PCT = 20.0
CRITICAL_PCT = 10.0
CHARGE_OK, CHARGE_LOW, CHARGE_CRITICAL = 1, 2, 3
"""``MAV_BATTERY_CHARGE_STATE`` values."""


class BatteryGauge:
    """Tracks the charge used by one flight and reads the battery out."""

    def __init__(self) -> None:
        self.consumed_mah = 0.0

    @staticmethod
    def voltage_v(fraction: float) -> float:
        """Return the pack voltage at ``fraction`` (0-1) of its charge."""
        return CELLS * (CELL_EMPTY_V + (CELL_FULL_V - CELL_EMPTY_V) * fraction)

    def add(
        self, state: VehicleState, limits: Limits, motors_on: bool, dt_s: float
    ) -> None:
        """Count the charge drawn over ``dt_s`` seconds in ``state``."""
        fraction = state.energy_wh / limits.battery_capacity_wh
        current_a = power_w(state, limits, motors_on) / self.voltage_v(fraction)
        self.consumed_mah += current_a * dt_s / 3.6

    def reading(
        self, state: VehicleState, limits: Limits, motors_on: bool, critical: bool
    ) -> Battery:
        """Return the battery as reported now; ``critical`` forces that state."""
        fraction = state.energy_wh / limits.battery_capacity_wh
        pct = fraction * 100.0
        power = power_w(state, limits, motors_on)
        voltage = self.voltage_v(fraction)
        if critical or pct <= CRITICAL_PCT:
            charge_state = CHARGE_CRITICAL
        elif pct <= LOW_PCT:
            charge_state = CHARGE_LOW
        else:
            charge_state = CHARGE_OK
        return Battery(
            voltage_v=voltage,
            current_a=power / voltage,
            remaining_pct=pct,
            consumed_mah=self.consumed_mah,
            consumed_j=(limits.battery_capacity_wh - state.energy_wh) * 3600.0,
            time_remaining_s=state.energy_wh * 3600.0 / power if power > 0 else 0.0,
            charge_state=charge_state,
        )
