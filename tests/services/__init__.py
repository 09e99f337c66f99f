"""Tests of the services, laid out as newsletters/services is."""
