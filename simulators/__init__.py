"""Simulated sensors with labelled incidents, for demos, tests and detection-quality benchmarks.

* :mod:`simulators.registry_gen` - synthetic registries of every sensor kind (``make_registry``);
* :mod:`simulators.signals` - vectorised, seeded signal models per kind;
* :mod:`simulators.scenario` - registry + signals + labelled incidents (``Scenario``, ``Incident``);
* :mod:`simulators.oracle` - re-checks a scenario's labels from its raw signal;
* :mod:`simulators.malformed` - bad payloads with the dead-letter reason each must get;
* :mod:`simulators.publisher` - MQTT publisher of scenario ticks (paho-mqtt 2.x).

See docs/simulators.md.
"""

from simulators.registry_gen import make_registry
from simulators.scenario import Incident, Scenario

__all__ = ["Incident", "Scenario", "make_registry"]
