"""The world of tests/security/test_roles.py: challenge A (phase A scored, rounded to 2 places,
a team of ann and bea, an organizer), challenge B, a superuser."""

from tests.security import test_roles

world = test_roles.world  # the fixture, shared
logged_in = test_roles.logged_in
