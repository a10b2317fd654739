"""Pipeline assembly: component factories, configs and the shared host services."""
