"""Validate OCSF events, one JSON object per line, against the JSON Schema of
their class and version as the OCSF project publishes it.

The schema comes from PyPI ocsf-json-schema (pinned in test/requirements.txt),
which packages the OCSF schema server's exports (schema.ocsf.io, one file per
version from 1.0.0-rc.2) and turns a class, with the profiles an event names
in metadata.profiles, into a JSON Schema. jsonschema validates against it.
What JSON Schema cannot say is checked here too: the version asked for,
type_uid = class_uid * 100 + activity_id, and the class's category.

usage: validate.py VERSION FILE...   (exit 1 when any event breaks the schema)
"""

import json
import sys

import jsonschema
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    version, files = argv[1], argv[2:]
    schema = OcsfJsonSchemaEmbedded(get_ocsf_schema(version))
    validators = {}
    errors, events = 0, 0
    for name in files:
        with open(name, encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                events += 1
                where = f"{name}:{line_no}"
                try:
                    event = json.loads(line)
                except ValueError as e:
                    print(f"{where}: not JSON: {e}")
                    errors += 1
                    continue
                problems = check(schema, validators, version, event)
                for p in problems:
                    print(f"{where}: {p}")
                errors += len(problems)
    print(f"{events} events, {errors} problems (OCSF {version})", file=sys.stderr)
    if events == 0:
        print("no events to validate", file=sys.stderr)
        return 1
    return 1 if errors else 0


def check(schema, validators, version, event):
    problems = []
    meta = event.get("metadata") or {}
    if meta.get("version") != version:
        problems.append(f"metadata.version {meta.get('version')!r}: want {version!r}")
    try:
        class_name = schema.lookup_class_name_from_uid(event.get("class_uid"))
    except Exception as e:  # an unknown class_uid
        return problems + [f"class_uid {event.get('class_uid')!r}: {e}"]
    profiles = tuple(sorted(meta.get("profiles") or []))
    key = (class_name, profiles)
    if key not in validators:
        js = schema.get_class_schema(class_name, list(profiles))
        cls = jsonschema.validators.validator_for(js)
        cls.check_schema(js)
        validators[key] = cls(js)
    for e in sorted(validators[key].iter_errors(event), key=lambda e: list(e.absolute_path)):
        path = "/".join(str(p) for p in e.absolute_path) or "(event)"
        problems.append(f"{path}: {e.message}")
    activity, cls_uid = event.get("activity_id"), event.get("class_uid")
    if isinstance(activity, int) and isinstance(cls_uid, int) and event.get("type_uid") != cls_uid * 100 + activity:
        problems.append(f"type_uid {event.get('type_uid')!r}: want class_uid*100+activity_id = {cls_uid * 100 + activity}")
    if isinstance(cls_uid, int) and event.get("category_uid") != cls_uid // 1000:
        problems.append(f"category_uid {event.get('category_uid')!r}: class {cls_uid} is in category {cls_uid // 1000}")
    return problems


if __name__ == "__main__":
    sys.exit(main(sys.argv))
