"""Campus security in the pipelines: decode and severity, per-device detection, KPIs.

    pipeline.py  `SecurityPipeline`: vendor record → `SecurityEvent` (taxonomy, severity, registry)
    detector.py  `SecurityDetector`: the rules of one device, driven in event-time order
    episodes.py, flapping.py, offline.py, faults.py, unknown.py   one rule each
    kpis.py      online ratios, police linkage, 4个100%, time to acknowledge, required guards

Operators' acknowledgements and suppression windows serve every domain: `pipelines/alerts.py`.
"""

from safecampus.pipelines.security.kpis import required_guards
from safecampus.pipelines.security.pipeline import SecurityPipeline

__all__ = ["SecurityPipeline", "required_guards"]
