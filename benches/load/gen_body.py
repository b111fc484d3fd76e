#!/usr/bin/env python3
"""Writes the load benchmark's request body: one CDS Hooks patient-view call for patient p1 with
500 prefetched Observations (vital signs charted every 12 hours and a few laboratory results,
spread over the 30 days before the pinned evaluation time), a Patient and an empty conditions
Bundle. Deterministic: the same bytes on every run (fixed seed, no clock).

    python3 benches/load/gen_body.py OUT.json [KEY ...]

Every extra KEY (a prefetch key of the service that this body does not fill) is sent as null,
"no such data", so that the server never tries to fetch.
"""

import json
import random
import sys
from datetime import datetime, timedelta, timezone

EVALUATION_TIME = datetime(2024, 3, 1, 10, 0, 0, tzinfo=timezone.utc)
PATIENT = "p1"
OBSERVATIONS = 500
DAYS = 30
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

# ACVPU answers (SNOMED CT): alert, new confusion, voice.
ALERT = ("248234008", "Alert")
CONFUSED = ("130987000", "New confusion")


def stamp(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def observation(oid, t, category, codings, value=None, unit=None, components=None, answer=None):
    obs = {
        "resourceType": "Observation",
        "id": oid,
        "meta": {"lastUpdated": stamp(t + timedelta(minutes=5))},
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
        "code": {"coding": [{"system": LOINC, "code": c, "display": d} for c, d in codings]},
        "subject": {"reference": f"Patient/{PATIENT}"},
        "effectiveDateTime": stamp(t),
        "issued": stamp(t + timedelta(minutes=5)),
    }
    if value is not None:
        obs["valueQuantity"] = quantity(value, unit)
    if answer is not None:
        code, display = answer
        obs["valueCodeableConcept"] = {
            "coding": [{"system": SNOMED, "code": code, "display": display}]
        }
    if components:
        obs["component"] = [
            {"code": {"coding": [{"system": LOINC, "code": c, "display": d}]},
             "valueQuantity": quantity(v, u)}
            for c, d, v, u in components
        ]
    return obs


def quantity(value, unit):
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def vitals_round(rng, t, n, latest):
    """One charting round: 8 Observations. The latest round scores NEWS2 6 (medium risk)."""
    if latest:
        rr, spo2, flow, sbp, dbp, hr, temp, acvpu = 22, 94, 0, 105, 68, 95, 38.2, ALERT
    else:
        rr = rng.randint(12, 20)
        spo2 = rng.randint(94, 99)
        flow = rng.choice([0, 0, 0, 2])
        sbp = rng.randint(105, 150)
        dbp = rng.randint(60, 95)
        hr = rng.randint(55, 100)
        temp = round(rng.uniform(36.1, 37.9), 1)
        acvpu = ALERT if rng.random() < 0.95 else CONFUSED
    return [
        observation(f"hr-{n}", t, "vital-signs", [("8867-4", "Heart rate")], hr, "/min"),
        observation(f"rr-{n}", t, "vital-signs", [("9279-1", "Respiratory rate")], rr, "/min"),
        observation(
            f"spo2-{n}", t, "vital-signs",
            [("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
             ("2708-6", "Oxygen saturation in Arterial blood")],
            spo2, "%",
            components=[("3151-8", "Inhaled oxygen flow rate", flow, "L/min")],
        ),
        observation(f"flow-{n}", t, "vital-signs", [("3151-8", "Inhaled oxygen flow rate")], flow, "L/min"),
        observation(
            f"bp-{n}", t, "vital-signs",
            [("85354-9", "Blood pressure panel with all children optional")],
            components=[("8480-6", "Systolic blood pressure", sbp, "mm[Hg]"),
                        ("8462-4", "Diastolic blood pressure", dbp, "mm[Hg]")],
        ),
        observation(f"sbp-{n}", t, "vital-signs", [("8480-6", "Systolic blood pressure")], sbp, "mm[Hg]"),
        observation(f"temp-{n}", t, "vital-signs", [("8310-5", "Body temperature")], temp, "Cel"),
        observation(
            f"acvpu-{n}", t, "survey", [("67775-7", "Level of responsiveness")], answer=acvpu
        ),
    ]


LABS = [
    ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.5, 5.2, 1),
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 134, 145, 0),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.7, 1.4, 2),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 5.8, 7.5, 1),
]


def observations(rng):
    start = EVALUATION_TIME - timedelta(days=DAYS)
    # Rounds every 12 hours, the last one an hour before the evaluation time.
    rounds = []
    t = EVALUATION_TIME - timedelta(hours=1)
    while t > start and len(rounds) * 8 + 8 <= OBSERVATIONS:
        rounds.append(t)
        t -= timedelta(hours=12)
    out = []
    for n, t in enumerate(reversed(rounds)):
        out.extend(vitals_round(rng, t, n, latest=(n == len(rounds) - 1)))
    # Laboratory results fill the rest, at random times of the 30 days.
    n = 0
    while len(out) < OBSERVATIONS:
        code, display, unit, low, high, decimals = LABS[n % len(LABS)]
        t = start + timedelta(minutes=rng.randint(0, DAYS * 24 * 60 - 120))
        value = round(rng.uniform(low, high), decimals)
        if decimals == 0:
            value = int(value)
        out.append(observation(f"lab-{n}", t, "laboratory", [(code, display)], value, unit))
        n += 1
    out.sort(key=lambda o: o["effectiveDateTime"], reverse=True)
    return out


def searchset(resources):
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"https://ehr.example.org/fhir/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }


def body(extra_null_keys):
    rng = random.Random(20240301)
    obs = observations(rng)
    assert len(obs) == OBSERVATIONS
    prefetch = {
        "patient": {
            "resourceType": "Patient",
            "id": PATIENT,
            "active": True,
            "name": [{"family": "Example", "given": ["Pat"]}],
            "gender": "female",
            "birthDate": "1951-07-14",
        },
        "observations": searchset(obs),
        "conditions": searchset([]),
    }
    for key in extra_null_keys:
        prefetch.setdefault(key, None)
    return {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": PATIENT},
        "prefetch": prefetch,
        "extension": {"cds-evaluation-time": stamp(EVALUATION_TIME)},
    }


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump(body(sys.argv[2:]), f, separators=(",", ":"))


if __name__ == "__main__":
    main()
