"""Signing in through the login page in a browser test (one way, shared by the browser tests)."""

from __future__ import annotations

from typing import Any

__all__ = ["sign_in"]


def sign_in(page: Any, server: str, password: str, username: str = "therapist1") -> None:
    """Fill the login form and wait for the dashboard."""
    page.goto(f"{server}/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server}/")
