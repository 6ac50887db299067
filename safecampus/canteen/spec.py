"""Write the canteen API's OpenAPI document: `python -m safecampus.canteen.spec docs/canteen-api.openapi.json`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from safecampus.canteen.api import openapi_spec

if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/canteen-api.openapi.json")
    target.write_text(json.dumps(openapi_spec(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
