"""Domain core of Wanqi: appeals, their lifecycle, routing and SLA clock. Pure Python."""
