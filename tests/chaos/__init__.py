"""The chaos properties: loads under faults, hostile requests and servers, secrets, crashes.

Each is a hypothesis property run against real servers on loopback. ``make test`` runs
them under the ``quick`` hypothesis profile; ``python bench/chaos.py`` runs them under
``full`` and prints the figures they record (the README's Reliability section).
"""
