"""Roles and the access policy: the one place that answers "may this user do this?"."""
