"""Sensors: landing zone (new folders and files), Event Hubs (new events) and gold."""

from paisa_assets.sensors.eventhub import eventhub_sensor
from paisa_assets.sensors.gold import gold_sensor
from paisa_assets.sensors.landing import (
    PARTITIONS,
    LandingPlan,
    landing_zone_sensor,
    listing_digest,
    partition_key_problem,
    plan_landing_runs,
    read_manifest,
)

__all__ = [
    "PARTITIONS",
    "LandingPlan",
    "eventhub_sensor",
    "gold_sensor",
    "landing_zone_sensor",
    "listing_digest",
    "partition_key_problem",
    "plan_landing_runs",
    "read_manifest",
]
