"""The model a route serves: loaded and digest-checked (``source``), held and swapped without
dropping a request (``holder``), its alias followed through the registry (``registry_access``)."""
