#!/usr/bin/env python3
"""Writes the whole-process pricing comparison's input: a time-of-day tariff and N
two-period OCPI 2.2.1 CDRs (energy + charging time, then parking), one per line, with a
fixed seed so every run prices the same file. Usage: gen-cdrs.py DIR [N]"""
import json
import random
import sys
from pathlib import Path

out = Path(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
out.mkdir(parents=True, exist_ok=True)
rng = random.Random(7)

component = lambda kind, price, step: {"type": kind, "price": price, "vat": 25, "step_size": step}
tariff = {
    "id": "TOD", "currency": "NOK", "country_code": "NO", "party_id": "UCC",
    "last_updated": "2026-01-01T00:00:00Z",
    "elements": [
        {"price_components": [component("ENERGY", 1.10, 1)],
         "restrictions": {"start_time": "22:00", "end_time": "06:00"}},
        {"price_components": [component("ENERGY", 3.20, 1)],
         "restrictions": {"start_time": "16:00", "end_time": "20:00",
                          "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
        {"price_components": [component("ENERGY", 2.50, 1), component("PARKING_TIME", 30, 300),
                              component("FLAT", 5, 0)]},
    ],
}
(out / "tariff.json").write_text(json.dumps(tariff))

with open(out / "cdrs.ndjson", "w") as f:
    for i in range(n):
        day, hour = 1 + i % 28, i % 22
        kwh = round(rng.uniform(1, 20), 3)
        at = lambda h: f"2026-11-{day:02}T{h:02}:00:00Z"
        f.write(json.dumps({
            "country_code": "NO", "party_id": "UCC", "id": f"CDR-{i}", "currency": "NOK",
            "start_date_time": at(hour), "end_date_time": at(hour + 2),
            "cdr_location": {"country": "NOR"},
            "charging_periods": [
                {"start_date_time": at(hour),
                 "dimensions": [{"type": "ENERGY", "volume": kwh}, {"type": "TIME", "volume": 1}]},
                {"start_date_time": at(hour + 1),
                 "dimensions": [{"type": "PARKING_TIME", "volume": 1}]},
            ],
            "total_cost": {"excl_vat": 0}, "total_energy": kwh, "total_time": 2,
            "last_updated": at(hour + 2),
        }) + "\n")
