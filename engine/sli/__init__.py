"""SLI checks: read a probe, judge the reading, and decide whether the service recovered.

An unreadable SLI is *unknown*, never healthy: the engine fails closed.
"""

from __future__ import annotations

from engine.sli.judge import Reading, Sample, SliVerdict, judge

__all__ = ["Reading", "Sample", "SliVerdict", "judge"]
