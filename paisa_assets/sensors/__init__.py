"""Sensors: landing zone (new folders and files), Event Hubs (new events) and gold."""

from paisa_assets.sensors.eventhub import eventhub_sensor
from paisa_assets.sensors.gold import gold_sensor
from paisa_assets.sensors.landing import (
    LandingPlan,
    folders_in_flight,
    landing_zone_sensor,
    listing_digest,
    partition_key_problem,
    plan_landing_runs,
    read_manifest,
)

__all__ = [
    "LandingPlan",
    "eventhub_sensor",
    "folders_in_flight",
    "gold_sensor",
    "landing_zone_sensor",
    "listing_digest",
    "partition_key_problem",
    "plan_landing_runs",
    "read_manifest",
]
