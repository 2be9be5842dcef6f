"""Carry users, projects and files from one backend pair to another (`hangar migrate`), and
keep a second pair in step with the first while a migration is under way (mirror mode)."""
